//! Reading one site macro call into its [`SiteCall`]: the arguments, their names and forms.
//! Errors of form (a missing, unknown, repeated or misplaced argument, a bad name) are
//! recorded here; a call that cannot be read becomes [`SiteCall::Unreadable`]. Whether a
//! readable call makes sense where it stands is for [`crate::check`].

use std::collections::HashSet;

use syn::spanned::Spanned;
use syn::{Expr, Macro};

use super::{
    Deterministic, Factor, Init, Obs, ObsClass, Param, Plate, PlateForm, Position, Sample,
    SiteCall, Subsample,
};
use crate::args::{self, Args, Kwarg};
use crate::errors::Errors;
use crate::messages;
use crate::names::{self, NameArg};

/// The site macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `sample!`.
    Sample,
    /// `param!`.
    Param,
    /// `plate!`.
    Plate,
    /// `factor!`.
    Factor,
    /// `deterministic!`.
    Deterministic,
    /// `subsample!`.
    Subsample,
}

/// The site macros by name.
pub const NAMES: [(&str, Which); 6] = [
    ("sample", Which::Sample),
    ("param", Which::Param),
    ("plate", Which::Plate),
    ("factor", Which::Factor),
    ("deterministic", Which::Deterministic),
    ("subsample", Which::Subsample),
];

/// Which site macro a call is: `sample!`, `pyro::sample!` or `::pyro::sample!` (and the
/// other site macros); `None` for any other macro.
pub fn which(mac: &Macro) -> Option<Which> {
    let segs = &mac.path.segments;
    let last = segs.last()?;
    if !last.arguments.is_none() {
        return None;
    }
    let prefix_ok = match segs.len() {
        1 => mac.path.leading_colon.is_none(),
        2 => segs.first().is_some_and(|s| s.ident == "pyro"),
        _ => false,
    };
    if !prefix_ok {
        return None;
    }
    NAMES.iter().find(|(n, _)| last.ident == n).map(|(_, w)| *w)
}

/// Reads the call `mac` of the site macro `which`, standing at `position`; `optional` are
/// the names visibly typed `Option<..>` in the function (for `obs`).
pub fn parse_call(
    mac: &Macro,
    which: Which,
    position: &Position,
    optional: &HashSet<String>,
    errors: &mut Errors,
) -> SiteCall {
    let call = match (which, position) {
        (Which::Sample, _) => sample(mac, optional, errors).map(SiteCall::Sample),
        (Which::Param, _) => param(mac, errors).map(SiteCall::Param),
        (Which::Plate, Position::ForHead) => sequential_plate(mac, errors).map(SiteCall::Plate),
        (Which::Plate, _) => Some(plate(mac, errors)),
        (Which::Factor, _) => factor(mac, errors).map(SiteCall::Factor),
        (Which::Deterministic, _) => deterministic(mac, errors).map(SiteCall::Deterministic),
        (Which::Subsample, _) => subsample(mac, errors).map(SiteCall::Subsample),
    };
    call.unwrap_or(SiteCall::Unreadable(Vec::new()))
}

/// The name argument (`what` is "site", "param" or "plate"), or the `missing` error at the
/// closing delimiter.
fn name_arg(a: &Args, what: &str, missing: &str, errors: &mut Errors) -> Option<NameArg> {
    match a.positional.first() {
        Some(e) => Some(names::classify(e, what, errors)),
        None => {
            errors.at(a.close, missing);
            None
        }
    }
}

/// Positional argument `i`, or the `missing` error at the closing delimiter.
fn required(a: &Args, i: usize, missing: &str, errors: &mut Errors) -> Option<Expr> {
    let arg = a.positional.get(i).cloned();
    if arg.is_none() {
        errors.at(a.close, missing);
    }
    arg
}

/// `sample!(name, dist, obs = .., obs_mask = .., infer = ..)`.
fn sample(mac: &Macro, optional: &HashSet<String>, errors: &mut Errors) -> Option<Sample> {
    let usage = messages::SAMPLE_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    let [obs, obs_mask, infer] = a.take_kwargs(
        "`sample!`",
        ["obs", "obs_mask", "infer"],
        &["name", "distribution"],
        errors,
    );
    a.no_more_than(2, "sample", usage, errors);
    let name = name_arg(&a, "site", messages::SAMPLE_NEEDS_NAME, errors)?;
    let Some(dist) = required(&a, 1, messages::SAMPLE_NEEDS_DISTRIBUTION, errors) else {
        return Some(Sample {
            name,
            dist: None,
            obs: None,
            obs_mask: None,
            infer: None,
        });
    };
    let obs = obs.map(|o| {
        let (class, value) = classify_obs(&o.value, optional);
        Obs {
            key: o.key,
            value: value.clone(),
            class,
        }
    });
    Some(Sample {
        name,
        dist: Some(dist),
        obs,
        obs_mask,
        infer,
    })
}

/// Whether an observation is visibly present: `None`, an `Option` the function declares
/// (possibly through `.as_ref()`, `&`, ...), or anything else; `Some(x)` gives `x`.
fn classify_obs<'a>(e: &'a Expr, optional: &HashSet<String>) -> (ObsClass, &'a Expr) {
    match e {
        Expr::Path(p) if p.qself.is_none() => match p.path.get_ident() {
            Some(i) if i == "None" => (ObsClass::Absent, e),
            Some(i) if optional.contains(&i.to_string()) => (ObsClass::Maybe, e),
            _ => (ObsClass::Always, e),
        },
        Expr::Call(c) if c.args.len() == 1 => match &*c.func {
            Expr::Path(p) if p.path.is_ident("Some") => match c.args.first() {
                Some(inner) => (ObsClass::Always, inner),
                None => (ObsClass::Always, e),
            },
            _ => (ObsClass::Always, e),
        },
        Expr::MethodCall(m)
            if ["as_ref", "as_deref", "cloned", "copied", "clone"]
                .iter()
                .any(|n| m.method == n) =>
        {
            match classify_obs(&m.receiver, optional).0 {
                ObsClass::Maybe => (ObsClass::Maybe, e),
                _ => (ObsClass::Always, e),
            }
        }
        Expr::Reference(r) => (classify_obs(&r.expr, optional).0, e),
        Expr::Paren(p) => (classify_obs(&p.expr, optional).0, e),
        _ => (ObsClass::Always, e),
    }
}

/// `param!(name, init, constraint = .., event_dim = ..)`; a closure with arguments is no
/// initial value.
fn param(mac: &Macro, errors: &mut Errors) -> Option<Param> {
    let usage = messages::PARAM_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    let [constraint, event_dim] = a.take_kwargs(
        "`param!`",
        ["constraint", "event_dim"],
        &["name", "init"],
        errors,
    );
    a.no_more_than(2, "param", usage, errors);
    let name = name_arg(&a, "param", messages::PARAM_NEEDS_NAME, errors)?;
    let init = required(&a, 1, messages::PARAM_NEEDS_INIT, errors).and_then(|value| {
        let lazy = match &value {
            Expr::Closure(c) if c.inputs.is_empty() => true,
            Expr::Closure(c) => {
                errors.at(c.inputs.span(), messages::LAZY_INIT_TAKES_NO_ARGUMENTS);
                return None;
            }
            _ => false,
        };
        Some(Init { value, lazy })
    });
    let (constraint, event_dim) = match init {
        Some(_) => (constraint, event_dim),
        None => (None, None),
    };
    Some(Param {
        name,
        init,
        constraint,
        event_dim,
    })
}

/// `factor!(name, log_factor)`.
fn factor(mac: &Macro, errors: &mut Errors) -> Option<Factor> {
    let usage = messages::FACTOR_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    let [] = a.take_kwargs("`factor!`", [], &["name"], errors);
    a.no_more_than(2, "factor", usage, errors);
    let name = name_arg(&a, "site", messages::FACTOR_NEEDS_NAME, errors)?;
    let value = required(&a, 1, messages::FACTOR_NEEDS_VALUE, errors);
    Some(Factor { name, value })
}

/// `deterministic!(name, value, event_dim = ..)`.
fn deterministic(mac: &Macro, errors: &mut Errors) -> Option<Deterministic> {
    let usage = messages::DETERMINISTIC_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    let [event_dim] = a.take_kwargs(
        "`deterministic!`",
        ["event_dim"],
        &["name", "value"],
        errors,
    );
    a.no_more_than(2, "deterministic", usage, errors);
    let name = name_arg(&a, "site", messages::DETERMINISTIC_NEEDS_NAME, errors)?;
    let value = required(&a, 1, messages::DETERMINISTIC_NEEDS_VALUE, errors);
    let event_dim = value.as_ref().and(event_dim);
    Some(Deterministic {
        name,
        value,
        event_dim,
    })
}

/// `subsample!(data, event_dim = ..)`.
fn subsample(mac: &Macro, errors: &mut Errors) -> Option<Subsample> {
    let usage = messages::SUBSAMPLE_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    let [event_dim] = a.take_kwargs("`subsample!`", ["event_dim"], &["data"], errors);
    a.no_more_than(1, "subsample", usage, errors);
    let data = required(&a, 0, messages::SUBSAMPLE_NEEDS_DATA, errors)?;
    Some(Subsample { data, event_dim })
}

/// What both plate forms start with: the name, the size and the options.
struct PlateHead {
    name: NameArg,
    size: Expr,
    subsample_size: Option<Kwarg>,
    subsample: Option<Kwarg>,
    dim: Option<Kwarg>,
}

impl PlateHead {
    /// Reads the options, then the name and the size.
    fn read(a: &mut Args, errors: &mut Errors) -> Option<PlateHead> {
        let [subsample_size, subsample, dim] = a.take_kwargs(
            "`plate!`",
            ["subsample_size", "subsample", "dim"],
            &["name", "size", "body"],
            errors,
        );
        let name = name_arg(a, "plate", messages::PLATE_NEEDS_NAME, errors)?;
        let size = required(a, 1, messages::PLATE_NEEDS_SIZE, errors)?;
        Some(PlateHead {
            name,
            size,
            subsample_size,
            subsample,
            dim,
        })
    }

    /// The plate, with its form.
    fn with(self, form: PlateForm) -> Plate {
        Plate {
            name: self.name,
            size: self.size,
            subsample_size: self.subsample_size,
            subsample: self.subsample,
            dim: self.dim,
            form,
        }
    }

    /// The expressions, for a plate whose body cannot be read.
    fn into_args(self) -> Vec<Expr> {
        [self.subsample_size, self.subsample, self.dim]
            .into_iter()
            .flatten()
            .fold(vec![self.size], |mut v, k| {
                v.push(k.value);
                v
            })
    }
}

/// `plate!(name, size, body)`.
fn plate(mac: &Macro, errors: &mut Errors) -> SiteCall {
    let usage = messages::PLATE_USAGE;
    let Some(mut a) = args::parse(mac, usage, errors) else {
        return SiteCall::Unreadable(Vec::new());
    };
    a.no_more_than(3, "plate", usage, errors);
    let Some(head) = PlateHead::read(&mut a, errors) else {
        return SiteCall::Unreadable(Vec::new());
    };
    let form = match required(&a, 2, messages::PLATE_NEEDS_BODY, errors) {
        Some(body @ Expr::Block(_)) => Some(PlateForm::Vectorized {
            binding: None,
            body: Box::new(body),
        }),
        Some(Expr::Closure(c)) if c.inputs.len() <= 1 => Some(PlateForm::Vectorized {
            binding: c.inputs.first().cloned().map(Box::new),
            body: c.body,
        }),
        Some(Expr::Closure(c)) => {
            errors.at(c.inputs.span(), messages::PLATE_CLOSURE_TAKES_ONE_ARGUMENT);
            None
        }
        Some(other) => {
            errors.at(other.span(), messages::PLATE_BODY_FORM);
            None
        }
        None => None,
    };
    match form {
        Some(form) => SiteCall::Plate(head.with(form)),
        None => SiteCall::Unreadable(head.into_args()),
    }
}

/// `for i in plate!(name, size)`.
fn sequential_plate(mac: &Macro, errors: &mut Errors) -> Option<Plate> {
    let usage = messages::SEQ_PLATE_USAGE;
    let mut a = args::parse(mac, usage, errors)?;
    if let Some(body) = a.positional.get(2) {
        errors.at(body.span(), messages::SEQUENTIAL_PLATE_HAS_NO_BODY);
    }
    a.no_more_than(3, "plate", usage, errors);
    Some(PlateHead::read(&mut a, errors)?.with(PlateForm::Sequential))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: proc_macro2::TokenStream, position: Position) -> (SiteCall, Vec<String>) {
        let mac: Macro = syn::parse2(tokens).expect("a macro call");
        let optional: HashSet<String> = ["y".to_string()].into();
        let mut errors = Errors::default();
        let w = which(&mac).expect("a site macro");
        let call = parse_call(&mac, w, &position, &optional, &mut errors);
        (call, errors.messages())
    }

    #[test]
    fn site_macros_are_recognized_by_path() {
        let m = |t: proc_macro2::TokenStream| which(&syn::parse2(t).expect("a macro"));
        assert_eq!(m(quote::quote!(sample!(x))), Some(Which::Sample));
        assert_eq!(m(quote::quote!(pyro::plate!(x))), Some(Which::Plate));
        assert_eq!(m(quote::quote!(::pyro::factor!(x))), Some(Which::Factor));
        assert_eq!(m(quote::quote!(other::sample!(x))), None);
        assert_eq!(m(quote::quote!(vec!(x))), None);
    }

    #[test]
    fn observations_are_classified() {
        let obs = |t| match parse(t, Position::Expression).0 {
            SiteCall::Sample(s) => s.obs.map(|o| o.class),
            _ => None,
        };
        assert_eq!(
            obs(quote::quote!(sample!("a", d, obs = y))),
            Some(ObsClass::Maybe)
        );
        assert_eq!(
            obs(quote::quote!(sample!("a", d, obs = y.as_ref()))),
            Some(ObsClass::Maybe)
        );
        assert_eq!(
            obs(quote::quote!(sample!("a", d, obs = x))),
            Some(ObsClass::Always)
        );
        assert_eq!(
            obs(quote::quote!(sample!("a", d, obs = None))),
            Some(ObsClass::Absent)
        );
        assert_eq!(
            obs(quote::quote!(sample!("a", d, obs = Some(y)))),
            Some(ObsClass::Always)
        );
        assert_eq!(obs(quote::quote!(sample!("a", d))), None);
    }

    #[test]
    fn missing_pieces_keep_the_site_or_make_the_call_unreadable() {
        let (c, e) = parse(quote::quote!(sample!("a")), Position::Statement);
        assert!(
            matches!(c, SiteCall::Sample(Sample { dist: None, .. })),
            "{e:?}"
        );
        let (c, _) = parse(quote::quote!(param!("w", |x| x)), Position::Statement);
        assert!(matches!(c, SiteCall::Param(Param { init: None, .. })));
        let (c, e) = parse(quote::quote!(plate!("p", 3)), Position::Statement);
        assert!(matches!(c, SiteCall::Unreadable(_)) && e[0].contains("needs a body"));
        let (c, e) = parse(quote::quote!(sample!()), Position::Statement);
        assert!(matches!(c, SiteCall::Unreadable(_)) && e[0].contains("needs a site name"));
    }

    #[test]
    fn plate_forms() {
        let (c, e) = parse(
            quote::quote!(plate!("p", n, dim = -2, |q| { x })),
            Position::Expression,
        );
        assert!(e.is_empty(), "{e:?}");
        let SiteCall::Plate(p) = c else {
            panic!("a plate");
        };
        assert!(matches!(
            p.form,
            PlateForm::Vectorized {
                binding: Some(_),
                ..
            }
        ));
        assert_eq!(p.dim(), super::super::Dim::Lit(2));
        let (c, e) = parse(quote::quote!(plate!("s", 3, { body })), Position::ForHead);
        assert!(e[0].contains("takes no body argument"), "{e:?}");
        assert!(matches!(
            c,
            SiteCall::Plate(Plate {
                form: PlateForm::Sequential,
                ..
            })
        ));
    }

    #[test]
    fn argument_errors_say_how_to_fix_them() {
        let calls = [
            quote::quote!(sample!("b", d, ob = x)),
            quote::quote!(sample!("c", d, infer = i, infer = i)),
            quote::quote!(sample!("d")),
            quote::quote!(plate!("p", 3)),
            quote::quote!(param!("w")),
            quote::quote!(sample!(name, d)),
            quote::quote!(factor!("f", v, event_dim = 1)),
        ];
        let all: Vec<String> = calls
            .into_iter()
            .flat_map(|c| parse(c, Position::Statement).1)
            .collect();
        let all = all.join("\n");
        for needle in [
            "did you mean `obs`",
            "`infer` is given twice",
            "needs a distribution",
            "needs a body",
            "needs an initial value",
            "format!",
            "`factor!` takes no keyword arguments",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
    }
}
