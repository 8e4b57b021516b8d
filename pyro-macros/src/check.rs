//! The compile-time checks: within one function (duplicate names, names repeated by loops,
//! a name used for a site and a param) and between a guide and its model.

use proc_macro2::Span;

use crate::errors::{closest, Errors};
use crate::messages;
use crate::names::Name;
use crate::sites::{exclusive, Kind, LoopKind, Site};

/// Checks the sites of one function (`fn_name` for messages).
pub fn function(sites: &[Site], fn_name: &str, errors: &mut Errors) {
    for (i, s) in sites.iter().enumerate() {
        let Some(n) = s.name.lit() else {
            continue;
        };
        if n.is_empty() {
            continue; // reported as an empty name already
        }
        let earlier = &sites[..i];
        if s.kind.is_sample() {
            if let Some(l) = &s.in_loop {
                errors.at(s.span, repeated_in_loop(n, &l.kind, l.var.as_deref()));
            } else if earlier
                .iter()
                .any(|p| p.kind.is_sample() && p.name.lit() == Some(n) && !exclusive(p, s))
            {
                errors.at(
                    s.span,
                    format!(
                        "site name `{n}` is used twice in `{fn_name}`; a trace holds one site \
                         per name, so this would fail when it runs: rename one of them (only \
                         sites in different arms of one `if`/`match` may share a name)"
                    ),
                );
            }
        }
        if earlier
            .iter()
            .any(|p| p.kind.is_sample() != s.kind.is_sample() && p.name.lit() == Some(n))
        {
            errors.at(
                s.span,
                format!(
                    "`{n}` names both a sample site and a param in `{fn_name}`; a name means \
                     one thing in a trace: rename the param (e.g. `{n}_loc`) or the site"
                ),
            );
        }
    }
}

fn repeated_in_loop(n: &str, kind: &LoopKind, var: Option<&str>) -> String {
    match kind {
        LoopKind::SeqPlate(p) => {
            let var = var.unwrap_or("i");
            format!(
                "site `{n}` is inside the sequential plate `{p}`, so the name `{n}` would repeat \
                 on every iteration (a trace holds one site per name): give each iteration its \
                 own name, built at run time: `format!(\"{n}_{{{var}}}\")`"
            )
        }
        other => {
            let word = match other {
                LoopKind::While => "`while` loop",
                LoopKind::Loop => "`loop`",
                _ => "`for` loop",
            };
            format!(
                "site `{n}` is inside a {word}, so the name `{n}` would repeat on every \
                 iteration (a trace holds one site per name): vectorize with \
                 `plate!(\"name\", size, {{ ... }})`, or loop over a sequential plate and \
                 build the name at run time: `for i in plate!(\"name\", size) {{ \
                 sample!(format!(\"{n}_{{i}}\"), ...) }}`"
            )
        }
    }
}

fn literal_plates(s: &Site) -> Option<Vec<String>> {
    s.plates
        .iter()
        .map(|p| p.name.lit().map(str::to_string))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Checks a guide's sites against its model's (failure kinds 1, 2, 4 and 7; kind 3 is found
/// by the walk of the guide). `model_sites` and `guide_sites` are the effective sites
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
                            " (no site name of the model has this form)",
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

fn not_in_model_hint(n: &str, model_sites: &[Site]) -> String {
    if model_sites
        .iter()
        .any(|m| m.kind == Kind::Param && m.name.lit() == Some(n))
    {
        return format!(" (`{n}` is a param of the model, not a sample site)");
    }
    let latent: Vec<&str> = model_sites
        .iter()
        .filter(|m| matches!(m.kind, Kind::Latent | Kind::MaybeObserved))
        .filter_map(|m| m.name.lit())
        .collect();
    if let Some(c) = closest(n, latent.iter().copied()) {
        return format!(" (did you mean `{c}`?)");
    }
    if latent.is_empty() {
        " (the model has no latent sites)".to_string()
    } else {
        format!(
            " (its latent sites: {})",
            latent
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
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

    #[test]
    fn function_checks() {
        let mut loop_site = site(Kind::Latent, "l", &[]);
        loop_site.in_loop = Some(crate::sites::LoopInfo {
            kind: LoopKind::For,
            var: None,
        });
        let sites = [
            site(Kind::Latent, "a", &[]),
            site(Kind::Latent, "a", &[]),
            site(Kind::Param, "a_loc", &[]),
            site(Kind::Param, "a_loc", &[]),
            site(Kind::Latent, "a_loc", &[]),
            loop_site,
        ];
        let mut e = Errors::default();
        function(&sites, "f", &mut e);
        let m = e.messages();
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("used twice"));
        assert!(m[1].contains("names both a sample site and a param"));
        assert!(m[2].contains("inside a `for` loop") && m[2].contains("plate!"));
    }
}
