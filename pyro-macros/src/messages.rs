//! Every user-facing error text of the macros, in one place: the usage lines, the argument
//! errors, the checks of one function and the model/guide mismatches. The mismatch wording is
//! shared with the run-time check `pyro::dsl::check_model_guide` (the runtime includes this
//! file with `#[path]`), so both say the same thing; that is why this file is plain functions
//! and constants over `&str`, with no dependencies.

// ----- usage lines (quoted in argument errors) ---------------------------------------------

/// The forms of `sample!`.
pub const SAMPLE_USAGE: &str =
    "`sample!(\"name\", distribution)` or `sample!(\"name\", distribution, obs = value)`";
/// The form of `param!`.
pub const PARAM_USAGE: &str =
    "`param!(\"name\", initial_value)` (options: `constraint = ..`, `event_dim = ..`)";
/// The form of `factor!`.
pub const FACTOR_USAGE: &str = "`factor!(\"name\", log_factor)`";
/// The form of `deterministic!`.
pub const DETERMINISTIC_USAGE: &str =
    "`deterministic!(\"name\", value)` (option: `event_dim = ..`)";
/// The forms of `subsample!`.
pub const SUBSAMPLE_USAGE: &str = "`subsample!(data)` or `subsample!(data, event_dim = 1)`";
/// The forms of a vectorized `plate!`.
pub const PLATE_USAGE: &str =
    "`plate!(\"name\", size, { ... })` or `plate!(\"name\", size, |p| { ... })`";
/// The form of a sequential `plate!`.
pub const SEQ_PLATE_USAGE: &str = "`for i in plate!(\"name\", size) { ... }`";
/// The form of `#[guide(..)]`.
pub const GUIDE_USAGE: &str = "`#[guide(model = my_model)]`";

// ----- arguments of any macro --------------------------------------------------------------

/// The arguments do not parse as a comma-separated list (`err` is syn's message).
pub fn unparsable_arguments(err: &str, usage: &str) -> String {
    format!("{err} (the form is {usage})")
}

/// A positional argument after the first keyword argument `first_key`.
pub fn positional_after_keyword(first_key: &str, usage: &str) -> String {
    format!(
        "positional argument after the keyword argument `{first_key}`: positional arguments \
         come first, as in {usage}"
    )
}

/// An unknown keyword argument `key` of `what` (`` `sample!` ``); `allowed` are the keys it
/// takes; `positional_index` is set when `key` names a positional argument; `closest` is the
/// likely intended key.
pub fn unknown_argument(
    key: &str,
    what: &str,
    allowed: &[&str],
    positional_index: Option<usize>,
    closest: Option<&str>,
) -> String {
    let expected = if allowed.is_empty() {
        format!("{what} takes no keyword arguments")
    } else {
        format!(
            "expected one of {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let hint = match (positional_index, closest) {
        (Some(i), _) => format!(
            " (the {key} is the {} argument, written without `{key} =`)",
            ["first", "second", "third"].get(i).unwrap_or(&"next")
        ),
        (None, Some(c)) => format!(" (did you mean `{c}`?)"),
        (None, None) => String::new(),
    };
    format!("unknown argument `{key}` of {what}{hint}; {expected}")
}

/// A keyword argument given twice.
pub fn repeated_argument(key: &str, what: &str) -> String {
    format!("`{key}` is given twice; give each argument of {what} once")
}

/// More than `n` positional arguments.
pub fn too_many_arguments(mac_name: &str, n: usize, usage: &str) -> String {
    format!(
        "unexpected argument: `{mac_name}!` takes {n} positional argument{}, as in {usage} \
         (other arguments are named: `key = value`)",
        if n == 1 { "" } else { "s" }
    )
}

// ----- names (failure kind 9) --------------------------------------------------------------

/// An empty name; `what` is "site", "param" or "plate".
pub fn empty_name(what: &str) -> String {
    format!("empty {what} name: every {what} needs a unique, non-empty name, such as \"z\"")
}

/// A literal name that is not a string; `found` describes it ("an integer").
pub fn name_not_a_string(what: &str, found: &str) -> String {
    format!(
        "a {what} name must be a string, found {found}; write it as a string literal, such as \
         \"z\""
    )
}

/// A name that is neither a string literal nor `format!(..)`; `shown` is the expression as
/// written, `suggestion` the `format!` call that would build it.
pub fn name_not_literal(what: &str, shown: &str, suggestion: &str) -> String {
    format!(
        "a {what} name must be a string literal (checked when compiling) or a name built at \
         run time with `format!` (checked when running); found `{shown}`: write \"name\", or \
         `{suggestion}` for a name computed at run time"
    )
}

// ----- missing or misshapen arguments of the site macros (failure kind 10) -----------------

/// `sample!()`.
pub const SAMPLE_NEEDS_NAME: &str = "`sample!` needs a site name and a distribution, as in \
     `sample!(\"z\", Normal::new(0.0, 1.0))`";
/// `sample!("z")`.
pub const SAMPLE_NEEDS_DISTRIBUTION: &str = "`sample!` needs a distribution after the site \
     name, as in `sample!(\"z\", Normal::new(0.0, 1.0))`";
/// `obs_mask` without `obs`.
pub const OBS_MASK_NEEDS_OBS: &str = "`obs_mask` selects which elements of `obs` are \
     observed, so it needs `obs = value` as well";
/// `param!()`.
pub const PARAM_NEEDS_NAME: &str =
    "`param!` needs a name and an initial value, as in `param!(\"w\", 0.5)`";
/// `param!("w")`.
pub const PARAM_NEEDS_INIT: &str = "`param!` needs an initial value after the name, as in \
     `param!(\"w\", 0.5)` or, computed only the first time, `param!(\"w\", || init())`";
/// `param!("w", |x| ..)`.
pub const LAZY_INIT_TAKES_NO_ARGUMENTS: &str =
    "a lazy initial value is a closure without arguments: `|| value`";
/// `factor!()`.
pub const FACTOR_NEEDS_NAME: &str = "`factor!` needs a site name and a log-factor, as in \
     `factor!(\"penalty\", log_p)`";
/// `factor!("f")`.
pub const FACTOR_NEEDS_VALUE: &str = "`factor!` needs a log-factor tensor after the name, as \
     in `factor!(\"penalty\", log_p)`";
/// `deterministic!()`.
pub const DETERMINISTIC_NEEDS_NAME: &str = "`deterministic!` needs a site name and a value, \
     as in `deterministic!(\"mean\", mean)`";
/// `deterministic!("d")`.
pub const DETERMINISTIC_NEEDS_VALUE: &str = "`deterministic!` needs a value after the name, \
     as in `deterministic!(\"mean\", mean)`";
/// `subsample!()`.
pub const SUBSAMPLE_NEEDS_DATA: &str = "`subsample!` needs the data to index by the plates' \
     batch, as in `subsample!(data)`";
/// `subsample!` outside every vectorized plate.
pub const SUBSAMPLE_OUTSIDE_PLATE: &str = "`subsample!` indexes data by the batch of the \
     enclosing vectorized plates, but it is not inside a `plate!` block";
/// `plate!()`.
pub const PLATE_NEEDS_NAME: &str =
    "`plate!` needs a name and a size, as in `plate!(\"data\", 100, { ... })`";
/// `plate!("p")`.
pub const PLATE_NEEDS_SIZE: &str =
    "`plate!` needs a size after the name, as in `plate!(\"data\", 100, { ... })`";
/// `plate!("p", n)`.
pub const PLATE_NEEDS_BODY: &str = "`plate!` needs a body: `plate!(\"data\", 100, { ... })`, \
     or `plate!(\"data\", 100, |p| { ... })` to use the plate `p` (its indices); for a \
     sequential plate, loop over it: `for i in plate!(\"data\", 100) { ... }`";
/// `plate!("p", n, |a, b| ..)`.
pub const PLATE_CLOSURE_TAKES_ONE_ARGUMENT: &str =
    "the body closure of `plate!` takes one argument, the plate: `|p| { ... }`";
/// `plate!("p", n, value)`.
pub const PLATE_BODY_FORM: &str = "the last argument of `plate!` is its body: a block \
     `{ ... }` or a closure `|p| { ... }`";
/// `for i in plate!("p", n, dim = ..)`.
pub const SEQUENTIAL_PLATE_HAS_NO_DIM: &str = "a sequential plate (`for .. in plate!(..)`) \
     has no `dim`: only vectorized plates take a batch dim";
/// `for i in plate!("p", n, { .. })`.
pub const SEQUENTIAL_PLATE_HAS_NO_BODY: &str = "a sequential plate takes no body argument: \
     the `for` loop's body is the plate's body";
/// `dim = 1`.
pub const PLATE_DIM_IS_NEGATIVE: &str = "a plate's `dim` counts from the right of the batch \
     shape and is negative: `dim = -1` is the rightmost batch dim";

/// A site macro outside a function the attributes rewrite (failure kind 11).
pub fn outside_model(name: &str) -> String {
    format!(
        "`{name}!` can only be used inside a function annotated with #[model] or #[guide] (or \
         a method of an impl block annotated with #[models]), which rewrites it; in other \
         code call the function `pyro::{name}(..)` instead"
    )
}

// ----- the checks of one function ----------------------------------------------------------

/// A function with sites that does not return a `Result`; `attr` is "model" or "guide".
pub fn needs_result(function: &str, attr: &str) -> String {
    format!(
        "`{function}` has sites, and a site can fail, so a #[{attr}] function returns a \
         `Result`: add `-> PyroResult<()>` (any `Result<T, E>` with `E: From<PyroError>` works)"
    )
}

/// Failure kind 5: one literal site name twice in one function.
pub fn duplicate_site(site: &str, function: &str) -> String {
    format!(
        "site name `{site}` is used twice in `{function}`; a trace holds one site per name, so \
         this would fail when it runs: rename one of them (only sites in different arms of one \
         `if`/`match` may share a name)"
    )
}

/// Failure kind 8: one name for a sample site and a param.
pub fn site_and_param(name: &str, function: &str) -> String {
    format!(
        "`{name}` names both a sample site and a param in `{function}`; a name means one thing \
         in a trace: rename the param (e.g. `{name}_loc`) or the site"
    )
}

/// Failure kind 6 in a sequential plate: `var` is its loop variable.
pub fn site_in_sequential_plate(site: &str, plate: &str, var: &str) -> String {
    format!(
        "site `{site}` is inside the sequential plate `{plate}`, so the name `{site}` would \
         repeat on every iteration (a trace holds one site per name): give each iteration its \
         own name, built at run time: `format!(\"{site}_{{{var}}}\")`"
    )
}

/// Failure kind 6 in another loop: `word` names it ("`for` loop").
pub fn site_in_loop(site: &str, word: &str) -> String {
    format!(
        "site `{site}` is inside a {word}, so the name `{site}` would repeat on every iteration \
         (a trace holds one site per name): vectorize with `plate!(\"name\", size, {{ ... }})`, \
         or loop over a sequential plate and build the name at run time: `for i in \
         plate!(\"name\", size) {{ sample!(format!(\"{site}_{{i}}\"), ...) }}`"
    )
}

// ----- the attributes ----------------------------------------------------------------------

/// `#[model(..)]` on a function.
pub const MODEL_TAKES_NO_ARGUMENTS: &str = "#[model] takes no arguments; the guide names its \
     model: `#[guide(model = this_function)]`";
/// `#[model(..)]` on a method.
pub const MODEL_METHOD_TAKES_NO_ARGUMENTS: &str = "#[model] takes no arguments";
/// `#[models(..)]`.
pub const MODELS_TAKES_NO_ARGUMENTS: &str = "#[models] takes no arguments";
/// `#[guide(my_model)]`.
pub const GUIDE_MODEL_IS_A_KEYWORD: &str =
    "#[guide] names its model with a keyword: `#[guide(model = my_model)]`";
/// `model = <not a path>`.
pub const GUIDE_MODEL_IS_A_PATH: &str = "`model =` takes the path of the #[model] function, as \
     in `#[guide(model = my_model)]`";
/// `#[guide]` alone.
pub const GUIDE_NEEDS_MODEL: &str = "#[guide] needs its model: `#[guide(model = my_model)]`, \
     where `my_model` is a #[model] function";
/// `check = <other>`.
pub const GUIDE_CHECK_VALUES: &str = "`check =` is `compile_time` (the default) or `runtime` \
     (for a model or guide that calls other functions with sites: they are matched when \
     inference runs)";
/// `#[guide]` on a method without `#[models]`.
pub const GUIDE_METHOD_NEEDS_MODELS: &str = "a guide method is checked against its model by \
     #[models] on the impl block: write #[models] above the `impl`";
/// `model = Self::m` outside `#[models]`.
pub const GUIDE_SELF_PATH: &str = "`Self::` names a method: a guide method is checked against \
     its model by #[models] on the impl block";
/// A method marked both ways.
pub const MODEL_AND_GUIDE: &str = "a method is either a #[model] or a #[guide], not both";

/// `#[model]`/`#[guide]` on a function syn could not read (`err` is its message).
pub fn unreadable_function(attr: &str, err: &str) -> String {
    format!("#[{attr}] could not read this function: {err}")
}

/// `#[model]`/`#[guide]` on an item that is not a function.
pub fn not_a_function(attr: &str) -> String {
    format!("#[{attr}] goes on a function (for methods, put #[models] on their impl block)")
}

/// `#[models]` on an item that is not an impl block (`err` is syn's message).
pub fn models_not_an_impl(err: &str) -> String {
    format!(
        "#[models] goes on an impl block whose methods are #[model]s and #[guide]s; this item \
         could not be read as one: {err}"
    )
}

/// `model = name` in `#[models]` where `name` is no `#[model]` method; `models` lists the
/// `#[model]` methods, each in backticks.
pub fn not_a_model_method(name: &str, models: &[String]) -> String {
    let list = if models.is_empty() {
        "this impl block has no #[model] method".to_string()
    } else {
        format!("its #[model] methods: {}", models.join(", "))
    };
    format!(
        "`{name}` is not a #[model] method of this impl block ({list}); mark `{name}` with \
         #[model], or point `model =` at a #[model]"
    )
}

/// The site list a model's hidden macro passed could not be read (`err` is the reason).
pub fn unreadable_site_list(err: &str) -> String {
    format!(
        "the site list of a #[model] could not be read ({err}); `#[guide(model = ..)]` must \
         name a function annotated with #[model] from the same version of pyro"
    )
}

/// Inside a site list: a word other than `@model`/`@guide`.
pub fn expected_marker(word: &str) -> String {
    format!("expected `@{word}`")
}

/// Inside a site list: an unknown kind word.
pub const UNKNOWN_SITE_KIND: &str = "unknown site kind";
/// Inside a site list: trailing tokens in a site.
pub const UNEXPECTED_SITE_TOKENS: &str = "unexpected tokens in a site";

// ----- model and guide (shared with the run-time check) ------------------------------------

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

/// The hint of kind 2 when the name is a param of the model.
pub fn hint_is_a_param(site: &str) -> String {
    format!(" (`{site}` is a param of the model, not a sample site)")
}

/// The hint of kind 2 for a likely typo.
pub fn hint_did_you_mean(candidate: &str) -> String {
    format!(" (did you mean `{candidate}`?)")
}

/// The hint of kind 2 listing the model's latent sites (none: `latent` is empty).
pub fn hint_latent_sites(latent: &[&str]) -> String {
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

/// The hint of kind 2 for a run-time name no model name can match.
pub const HINT_NO_NAME_OF_THIS_FORM: &str = " (no site name of the model has this form)";

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
