//! The checks of a guide against its model: every latent site of the model has a site in
//! the guide, and every site the guide samples is a latent site of the model, in the same
//! plates. Both sides are site lists ([`Site`]), since a model's list reaches its guide as
//! tokens.

use proc_macro2::Span;

use crate::errors::{closest, Errors};
use crate::messages;
use crate::names::Name;
use crate::sites::{Kind, Site};

/// The names of a site's plates, when all are literal.
fn literal_plates(s: &Site) -> Option<Vec<String>> {
    s.plates
        .iter()
        .map(|p| p.name.lit().map(str::to_string))
        .collect()
}

/// `v` sorted, without repeats.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Checks a guide's sites against its model's (failure kinds 1, 2, 4 and 7; kind 3 is found
/// by the checks of the guide alone). `model_sites` and `guide_sites` are the effective sites
/// (`obs_mask` sites already split).
pub fn pair(
    model: &str,
    model_sites: &[Site],
    guide: &str,
    guide_span: Span,
    guide_sites: &[Site],
    errors: &mut Errors,
) {
    let model_has_runtime_names = model_sites
        .iter()
        .any(|s| s.kind.is_sample() && s.name.lit().is_none());
    for g in guide_sites.iter().filter(|g| g.kind == Kind::Latent) {
        match &g.name {
            Name::Lit(n) if n.is_empty() => {}
            Name::Lit(n) => {
                let m = model_sites
                    .iter()
                    .find(|m| m.kind.is_sample() && m.name.lit() == Some(n));
                match m {
                    Some(m)
                        if matches!(
                            m.kind,
                            Kind::Observed | Kind::Factor | Kind::Deterministic
                        ) =>
                    {
                        errors.at(g.span, messages::observed_site_in_guide(n, Some(model)));
                    }
                    Some(m) => {
                        if let (Some(mp), Some(gp)) = (literal_plates(m), literal_plates(g)) {
                            if sorted(mp.clone()) != sorted(gp.clone()) {
                                errors.at(g.span, messages::plate_mismatch(n, &mp, &gp));
                            }
                        }
                    }
                    None if model_sites
                        .iter()
                        .any(|m| m.kind.is_sample() && m.name.can_be(n)) => {}
                    None => {
                        let hint = not_in_model_hint(n, model_sites);
                        errors.at(
                            g.span,
                            messages::guide_site_not_in_model(n, Some(model), &hint),
                        );
                    }
                }
            }
            Name::Runtime(p) => {
                let possible = model_has_runtime_names
                    || model_sites
                        .iter()
                        .any(|m| m.kind.is_sample() && m.name.lit().is_some_and(|n| p.matches(n)));
                if !possible {
                    errors.at(
                        g.span,
                        messages::guide_site_not_in_model(
                            &p.display(),
                            Some(model),
                            messages::HINT_NO_NAME_OF_THIS_FORM,
                        ),
                    );
                }
            }
        }
    }
    for m in model_sites
        .iter()
        .filter(|m| m.kind == Kind::Latent && !m.lenient)
    {
        let Some(n) = m.name.lit() else {
            continue;
        };
        if n.is_empty() {
            continue;
        }
        let covered = guide_sites
            .iter()
            .any(|g| g.kind.is_sample() && g.name.can_be(n));
        if !covered {
            errors.at(
                guide_span,
                messages::missing_guide_site(n, Some(model), Some(guide)),
            );
        }
    }
}

/// What to add to the error for a guide site `n` the model does not have.
fn not_in_model_hint(n: &str, model_sites: &[Site]) -> String {
    if model_sites
        .iter()
        .any(|m| m.kind == Kind::Param && m.name.lit() == Some(n))
    {
        return messages::hint_is_a_param(n);
    }
    let latent: Vec<&str> = model_sites
        .iter()
        .filter(|m| matches!(m.kind, Kind::Latent | Kind::MaybeObserved))
        .filter_map(|m| m.name.lit())
        .collect();
    match closest(n, latent.iter().copied()) {
        Some(c) => messages::hint_did_you_mean(c),
        None => messages::hint_latent_sites(&latent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Pattern;
    use crate::sites::PlateRef;

    fn site(kind: Kind, name: &str, plates: &[&str]) -> Site {
        let mut s = Site::new(kind, Name::Lit(name.into()), Span::call_site());
        s.plates = plates
            .iter()
            .map(|p| PlateRef {
                name: Name::Lit(p.to_string()),
            })
            .collect();
        s
    }

    fn pair_errors(model: &[Site], guide: &[Site]) -> Vec<String> {
        let mut e = Errors::default();
        pair("m", model, "g", Span::call_site(), guide, &mut e);
        e.messages()
    }

    #[test]
    fn matching_model_and_guide_pass() {
        let model = [
            site(Kind::Latent, "a", &[]),
            site(Kind::Latent, "z", &["data"]),
            site(Kind::Observed, "obs", &["data"]),
            site(Kind::MaybeObserved, "y", &[]),
            site(Kind::Param, "w", &[]),
        ];
        let guide = [
            site(Kind::Param, "a_loc", &[]),
            site(Kind::Latent, "a", &[]),
            site(Kind::Latent, "z", &["data"]),
            site(Kind::Latent, "y", &[]),
        ];
        assert!(pair_errors(&model, &guide).is_empty());
    }

    #[test]
    fn each_pair_mismatch_is_reported() {
        let model = [
            site(Kind::Latent, "a", &[]),
            site(Kind::Latent, "sigma", &[]),
            site(Kind::Latent, "z", &["data"]),
            site(Kind::Observed, "obs", &["data"]),
            site(Kind::Param, "w", &[]),
        ];
        let guide = [
            site(Kind::Latent, "sigam", &[]),
            site(Kind::Latent, "z", &[]),
            site(Kind::Latent, "obs", &["data"]),
            site(Kind::Latent, "w", &[]),
        ];
        let e = pair_errors(&model, &guide).join("\n");
        for needle in [
            "has no sample site `sigam`",
            "did you mean `sigma`",
            "inside plate `data` in the model but inside no plate in the guide",
            "site `obs` is observed in the model `m`",
            "`w` is a param of the model",
            "the guide `g` has no site `a`",
            "the guide `g` has no site `sigma`",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in\n{e}");
        }
    }

    #[test]
    fn run_time_names_are_matched_by_pattern() {
        let mut x = site(Kind::Latent, "", &[]);
        x.name = Name::Runtime(Pattern::from_format("x_{i}"));
        let model = [x.clone(), site(Kind::Latent, "b", &[])];
        let guide = [site(Kind::Latent, "x_0", &[]), site(Kind::Latent, "b", &[])];
        assert!(pair_errors(&model, &guide).is_empty());
        // A guide pattern covers the model's literal names it can produce.
        let model = [
            site(Kind::Latent, "x_0", &[]),
            site(Kind::Latent, "x_1", &[]),
        ];
        assert!(pair_errors(&model, &[x.clone()]).is_empty());
        let model = [site(Kind::Latent, "y", &[])];
        let e = pair_errors(&model, &[x]).join("\n");
        assert!(e.contains("x_{..}") && e.contains("has no site `y`"), "{e}");
    }
}
