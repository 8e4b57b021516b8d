//! The wording of the model/guide mismatch errors, shared by the compile-time checks of
//! `#[guide]` and the run-time check `pyro::dsl::check_model_guide` (the runtime includes this
//! file with `#[path]`), so both say the same thing. Plain functions, no dependencies.

/// "the model `m`" when the name is known (compile time), "the model" otherwise (run time).
fn who(role: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("the {role} `{n}`"),
        None => format!("the {role}"),
    }
}

/// Failure kind 1: a latent site of the model has no site in the guide.
pub fn missing_guide_site(site: &str, model: Option<&str>, guide: Option<&str>) -> String {
    format!(
        "{} has no site `{site}`, which {} samples as a latent variable; every latent site \
         of the model needs a value from the guide: add `sample!(\"{site}\", ...)` to the guide",
        who("guide", guide),
        who("model", model)
    )
}

/// Failure kind 2: the guide samples a site the model does not have.
pub fn guide_site_not_in_model(site: &str, model: Option<&str>, hint: &str) -> String {
    format!(
        "{} has no sample site `{site}`, but the guide samples it; a guide may only sample \
         the latent sites of its model{hint}",
        who("model", model)
    )
}

/// Failure kind 3: a guide site is observed.
pub fn guide_site_observed(site: &str) -> String {
    format!(
        "guide site `{site}` is observed: a guide only proposes values for the model's latent \
         sites; move the observation (`obs = ...`) to the model"
    )
}

/// Failure kind 4: the guide samples a site that the model always observes.
pub fn observed_site_in_guide(site: &str, model: Option<&str>) -> String {
    format!(
        "site `{site}` is observed in {}, so the guide must not sample it: remove it from the \
         guide (if the observation may be absent, as with Pyro's `obs=None`, pass it to the \
         model as an `Option`)",
        who("model", model)
    )
}

/// Failure kind 7: a site sits in different plates in the model and the guide.
pub fn plate_mismatch(site: &str, in_model: &[String], in_guide: &[String]) -> String {
    let list = |p: &[String]| {
        if p.is_empty() {
            "no plate".to_string()
        } else {
            p.iter()
                .map(|n| format!("plate `{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        }
    };
    format!(
        "site `{site}` is inside {} in the model but inside {} in the guide; put the guide's \
         site in the same plates as the model's (`plate!(\"name\", size, {{ ... }})`)",
        list(in_model),
        list(in_guide)
    )
}

/// Run time: the values of a site have different shapes in the model and the guide.
pub fn shape_mismatch(site: &str, model_shape: &[usize], guide_shape: &[usize]) -> String {
    format!(
        "site `{site}`: the guide's value has shape {guide_shape:?} but the model's has shape \
         {model_shape:?}; the guide must sample the same shape (check its plates and \
         `.to_event(..)`)"
    )
}

/// Run time: the event shapes of a site's distributions differ between model and guide.
pub fn event_shape_mismatch(site: &str, model_event: &[usize], guide_event: &[usize]) -> String {
    format!(
        "site `{site}`: the guide's distribution has event shape {guide_event:?} but the \
         model's has event shape {model_event:?}; use `.to_event(..)` so both agree"
    )
}
