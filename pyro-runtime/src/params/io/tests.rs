//! Save/load round trips, file-format checks and failure cases of the param-store file.

use std::sync::atomic::AtomicUsize;

use dfdx::prelude::Cpu;

use super::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use safetensors::SafeTensors;

use crate::constraints::Constraint;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "pyro-params-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
    DynTensor::from_vec(v.to_vec(), shape).unwrap()
}

fn sample_store() -> ParamStore<Cpu> {
    let mut s = ParamStore::<Cpu>::new();
    s.param(
        "scale",
        t(&[0.5, 2.0, 7.0], &[3]),
        Constraint::Positive,
        Some(1),
    )
    .unwrap();
    s.param("loc", t(&[-1.25], &[]), Constraint::Real, None)
        .unwrap();
    s.param(
        "w.matrix",
        t(&[0.1, 0.2, 0.3, 0.9, 0.5, 0.6], &[2, 3]),
        Constraint::Interval(0.0, 1.5),
        Some(2),
    )
    .unwrap();
    s.param("p", t(&[0.25], &[1]), Constraint::UnitInterval, Some(0))
        .unwrap();
    s.param(
        "sp",
        t(&[3.0, 0.1], &[2]),
        Constraint::SoftplusPositive,
        None,
    )
    .unwrap();
    s.param("gt", t(&[-0.5], &[1]), Constraint::GreaterThan(-1.0), None)
        .unwrap();
    s.param("lt", t(&[9.0], &[1]), Constraint::LessThan(10.5), None)
        .unwrap();
    s
}

/// Everything observable about a store: names in order, shapes, exact unconstrained
/// bits, constraints, event_dims and leaf ids.
type Snapshot = Vec<(
    String,
    Vec<usize>,
    Vec<u32>,
    Constraint,
    Option<usize>,
    Option<crate::tensor::Key>,
)>;
fn snapshot(s: &ParamStore<Cpu>) -> Snapshot {
    s.named_parameters()
        .map(|(n, u)| {
            (
                n.to_string(),
                u.shape().to_vec(),
                u.to_vec().iter().map(|v| v.to_bits()).collect(),
                s.constraint(n).unwrap().clone(),
                s.event_dim(n).unwrap(),
                u.host_key(),
            )
        })
        .collect()
}
fn without_ids(mut s: Snapshot) -> Snapshot {
    for e in &mut s {
        e.5 = None;
    }
    s
}

#[test]
fn constraint_text_round_trip() {
    let all = [
        Constraint::Real,
        Constraint::RealVector,
        Constraint::Positive,
        Constraint::NonNegative,
        Constraint::GreaterThan(-0.1),
        Constraint::GreaterThanEq(1e-30),
        Constraint::LessThan(f32::MAX),
        Constraint::Interval(-3.5, 1.0 / 3.0),
        Constraint::UnitInterval,
        Constraint::Simplex,
        Constraint::LowerCholesky,
        Constraint::CorrCholesky,
        Constraint::PositiveDefinite,
        Constraint::SoftplusPositive,
        Constraint::Boolean,
        Constraint::NonNegativeInteger,
        Constraint::IntegerInterval(-4, 9),
    ];
    for c in all {
        let text = c.to_string();
        assert_eq!(text.parse::<Constraint>(), Ok(c), "{text}");
    }
    for bad in [
        "",
        "reals",
        "positive(1)",
        "interval(0)",
        "interval(0, 1",
        "greater_than(x)",
        "greater_than(NaN)",
        "integer_interval(0.5, 2)",
    ] {
        assert!(bad.parse::<Constraint>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn save_load_round_trip() {
    let dir = TempDir::new("roundtrip");
    let path = dir.file("params.safetensors");
    let s = sample_store();
    s.save(&path).unwrap();
    assert_eq!(
        dir.entries(),
        ["params.safetensors"],
        "temporary file left behind"
    );
    let mut r = ParamStore::<Cpu>::new();
    r.load(&path).unwrap();
    assert_eq!(without_ids(snapshot(&r)), without_ids(snapshot(&s)));
    for (name, v) in s.items() {
        assert_eq!(r.get(name).unwrap().to_vec(), v.to_vec(), "{name}");
        assert_eq!(r.get(name).unwrap().shape(), v.shape(), "{name}");
    }
    // Saving again over the same path replaces it atomically.
    r.set("loc", &t(&[4.0], &[])).unwrap();
    r.save(&path).unwrap();
    let mut r2 = ParamStore::<Cpu>::new();
    r2.load(&path).unwrap();
    assert_eq!(r2.get("loc").unwrap().to_vec(), vec![4.0]);
    assert_eq!(dir.entries(), ["params.safetensors"]);
}

/// Event-shaped parameters survive save/load: a batch of simplex rows, a lower-Cholesky
/// factor and a correlation factor (whose file tensor has the leaf's shape [3], not the
/// value's [3, 3]).
#[test]
fn save_load_round_trip_of_event_shaped_params() {
    let dir = TempDir::new("events");
    let path = dir.file("p.safetensors");
    let simplex = [0.2f32, 0.3, 0.5, 0.05, 0.9, 0.05];
    let lower = [1.5f32, 0.0, 0.0, -0.4, 0.2, 0.0, 2.0, 0.7, 3.0];
    let corr = [1.0f32, 0.0, 0.0, 0.6, 0.8, 0.0, 0.0, 0.6, 0.8];
    let mut s = ParamStore::<Cpu>::new();
    s.param("probs", t(&simplex, &[2, 3]), Constraint::Simplex, Some(1))
        .unwrap();
    s.param(
        "scale_tril",
        t(&lower, &[3, 3]),
        Constraint::LowerCholesky,
        None,
    )
    .unwrap();
    s.param("corr", t(&corr, &[3, 3]), Constraint::CorrCholesky, Some(2))
        .unwrap();
    s.save(&path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("probs").unwrap().shape(), &[2, 3]);
    assert_eq!(st.tensor("scale_tril").unwrap().shape(), &[3, 3]);
    assert_eq!(st.tensor("corr").unwrap().shape(), &[3]);
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let m = meta.metadata().clone().unwrap();
    assert_eq!(m["constraint:probs"], "simplex");
    assert_eq!(m["constraint:scale_tril"], "lower_cholesky");
    assert_eq!(m["constraint:corr"], "corr_cholesky");

    let mut r = ParamStore::<Cpu>::new();
    r.load(&path).unwrap();
    assert_eq!(without_ids(snapshot(&r)), without_ids(snapshot(&s)));
    assert_eq!(r.event_dim("corr"), Some(Some(2)));
    for (name, init, shape) in [
        ("probs", &simplex[..], &[2usize, 3][..]),
        ("scale_tril", &lower[..], &[3, 3][..]),
        ("corr", &corr[..], &[3, 3][..]),
    ] {
        let v = r.get(name).unwrap();
        assert_eq!(v.shape(), shape, "{name}");
        assert_eq!(v.to_vec(), s.get(name).unwrap().to_vec(), "{name}");
        for (a, b) in v.to_vec().iter().zip(init) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn file_is_plain_safetensors_of_unconstrained_f32() {
    let dir = TempDir::new("plain");
    let path = dir.file("p.safetensors");
    sample_store().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let scale = st.tensor("scale").unwrap();
    assert_eq!(scale.dtype(), Dtype::F32);
    assert_eq!(scale.shape(), &[3]);
    let v: Vec<f32> = scale
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    for (a, x) in v.iter().zip([0.5f64, 2.0, 7.0]) {
        assert!((*a as f64 - x.ln()).abs() < 1e-6);
    }
    assert_eq!(st.tensor("loc").unwrap().shape(), &[] as &[usize]);
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let m = meta.metadata().clone().unwrap();
    assert_eq!(m["format"], FORMAT);
    assert_eq!(m["constraint:w.matrix"], "interval(0, 1.5)");
    assert_eq!(m["event_dim:w.matrix"], "2");
    assert_eq!(m["event_dim:loc"], "none");
    assert_eq!(m["index:w.matrix"], "2");
}

#[test]
fn load_merges_into_existing_store_keeping_leaf_ids() {
    let dir = TempDir::new("merge");
    let path = dir.file("p.safetensors");
    let mut src = ParamStore::<Cpu>::new();
    src.param("b", t(&[5.0, 6.0], &[2]), Constraint::Positive, Some(1))
        .unwrap();
    src.param("new", t(&[1.0], &[1]), Constraint::Real, None)
        .unwrap();
    src.save(&path).unwrap();

    let mut dst = ParamStore::<Cpu>::new();
    dst.param("a", t(&[0.0], &[1]), Constraint::Real, None)
        .unwrap();
    dst.param("b", t(&[-1.0, -2.0], &[2]), Constraint::Real, None)
        .unwrap();
    let id_b = dst.get_unconstrained("b").unwrap().clone();
    dst.load(&path).unwrap();
    assert_eq!(dst.keys().collect::<Vec<_>>(), ["a", "b", "new"]);
    assert!(dst.get_unconstrained("b").unwrap().same_node(&id_b));
    assert_eq!(dst.constraint("b"), Some(&Constraint::Positive));
    assert_eq!(dst.event_dim("b"), Some(Some(1)));
    let b = dst.get("b").unwrap().to_vec();
    assert!((b[0] - 5.0).abs() < 1e-5 && (b[1] - 6.0).abs() < 1e-5);
    assert_eq!(dst.get("a").unwrap().to_vec(), vec![0.0]);
}

#[test]
fn failed_write_keeps_previous_file_and_removes_temp() {
    let dir = TempDir::new("atomic");
    let path = dir.file("p.safetensors");
    let s = sample_store();
    s.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();

    // A failure after the temporary file is fully written and synced, just before the
    // rename: the old file must be untouched and the temporary file gone.
    let mut other = ParamStore::<Cpu>::new();
    other.set("x", &t(&[1.0], &[1])).unwrap();
    let mut tmp_seen = None;
    let err = other
        .save_with_hook(&path, |tmp| {
            assert!(tmp.exists() && tmp.parent() == path.parent());
            tmp_seen = Some(tmp.to_path_buf());
            Err(std::io::Error::other("injected failure"))
        })
        .unwrap_err();
    assert!(matches!(err, ParamStoreError::Io { path: ref p, .. } if p == &path));
    assert!(!tmp_seen.unwrap().exists());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(dir.entries(), ["p.safetensors"]);

    // A rename that fails (the target is a directory): typed error, no temp file left.
    let sub = dir.file("a_directory");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("inside"), b"x").unwrap();
    let err = s.save(&sub).unwrap_err();
    assert!(matches!(err, ParamStoreError::Io { ref path, .. } if path == &sub));
    assert_eq!(dir.entries(), ["a_directory", "p.safetensors"]);

    // A missing directory: typed error naming the file.
    let missing = dir.file("no_such_dir").join("p.safetensors");
    let err = s.save(&missing).unwrap_err();
    assert!(matches!(err, ParamStoreError::Io { .. }));
    assert!(err.to_string().contains(&missing.display().to_string()));

    // A reserved name cannot be written; the previous file stays.
    let mut reserved = ParamStore::<Cpu>::new();
    reserved.set("__metadata__", &t(&[1.0], &[1])).unwrap();
    let err = reserved.save(&path).unwrap_err();
    assert!(matches!(err, ParamStoreError::ReservedName { .. }));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(dir.entries(), ["a_directory", "p.safetensors"]);
}

/// Writes a safetensors file with arbitrary tensors and metadata.
fn write_raw(
    path: &Path,
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    metadata: Option<HashMap<String, String>>,
) {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bytes = safetensors::serialize(views, &metadata).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn good_meta(name: &str, constraint: &str) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        (format!("constraint:{name}"), constraint.to_string()),
        (format!("event_dim:{name}"), "none".to_string()),
        (format!("index:{name}"), "0".to_string()),
    ])
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Loads `path` into a populated store, checks the error names the file (and `param`
/// when given) and that the store is unchanged.
fn load_fails(path: &Path, param: Option<&str>) -> ParamStoreError {
    let mut s = sample_store();
    let before = snapshot(&s);
    let err = s.load(path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name the file: {text}"
    );
    if let Some(p) = param {
        assert!(
            text.contains(&format!("`{p}`")),
            "error does not name `{p}`: {text}"
        );
    }
    assert_eq!(
        snapshot(&s),
        before,
        "store changed by a failed load: {text}"
    );
    err
}

#[test]
fn malformed_files_are_typed_errors_and_leave_store_unchanged() {
    let dir = TempDir::new("malformed");
    let good = dir.file("good.safetensors");
    // A valid file holding "scale" with another shape, plus a new name: half-loading it
    // would add "fresh" before reaching the mismatch.
    let mut src = ParamStore::<Cpu>::new();
    src.set("aaa_fresh", &t(&[1.0], &[1])).unwrap();
    src.param("scale", t(&[1.0, 2.0], &[2]), Constraint::Positive, None)
        .unwrap();
    src.save(&good).unwrap();
    let e = load_fails(&good, Some("scale"));
    assert!(matches!(
        e,
        ParamStoreError::LoadShapeMismatch { ref stored, ref in_file, .. }
            if stored == &[3] && in_file == &[2]
    ));

    // Missing file.
    let e = load_fails(&dir.file("absent.safetensors"), None);
    assert!(matches!(e, ParamStoreError::Io { op: "read", .. }));

    // Truncated at several points: inside the length prefix, the header, the data.
    let full = std::fs::read(&good).unwrap();
    for cut in [0, 5, 8 + 10, full.len() - 3] {
        let p = dir.file(&format!("cut{cut}.safetensors"));
        std::fs::write(&p, &full[..cut]).unwrap();
        let e = load_fails(&p, None);
        assert!(
            matches!(e, ParamStoreError::Truncated { .. }),
            "cut {cut}: {e}"
        );
    }

    // Not safetensors at all.
    let p = dir.file("text.safetensors");
    std::fs::write(&p, "name,value\nscale,1.0\nloc,2.0\n").unwrap();
    assert!(matches!(
        load_fails(&p, None),
        ParamStoreError::NotSafetensors { .. }
    ));
    let p = dir.file("zeros.safetensors");
    std::fs::write(&p, [0u8; 64]).unwrap();
    assert!(matches!(
        load_fails(&p, None),
        ParamStoreError::NotSafetensors { .. }
    ));

    // Wrong dtype.
    let p = dir.file("f64.safetensors");
    let b: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    write_raw(
        &p,
        &[("w", Dtype::F64, vec![2], b)],
        Some(good_meta("w", "real")),
    );
    let e = load_fails(&p, Some("w"));
    assert!(matches!(e, ParamStoreError::WrongDtype { ref dtype, .. } if dtype == "F64"));

    // No metadata at all / another format.
    let p = dir.file("nometa.safetensors");
    write_raw(&p, &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))], None);
    assert!(matches!(
        load_fails(&p, None),
        ParamStoreError::UnknownFormat { .. }
    ));
    let p = dir.file("otherformat.safetensors");
    let mut m = good_meta("w", "real");
    m.insert("format".into(), "pt".into());
    write_raw(
        &p,
        &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
        Some(m),
    );
    assert!(matches!(
        load_fails(&p, None),
        ParamStoreError::UnknownFormat { .. }
    ));

    // A parameter's metadata entry missing.
    for kind in ["constraint", "event_dim", "index"] {
        let p = dir.file(&format!("missing-{kind}.safetensors"));
        let mut m = good_meta("w", "real");
        m.remove(&format!("{kind}:w"));
        write_raw(
            &p,
            &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
            Some(m),
        );
        let e = load_fails(&p, Some("w"));
        assert!(
            matches!(e, ParamStoreError::MissingMetadata { ref key, .. } if key == &format!("{kind}:w")),
            "{e}"
        );
    }

    // Unknown metadata: an unknown key, and a key for a parameter the file lacks.
    for key in ["comment", "constraint:ghost"] {
        let p = dir.file("unknown.safetensors");
        let mut m = good_meta("w", "real");
        m.insert(key.into(), "x".into());
        write_raw(
            &p,
            &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
            Some(m),
        );
        let e = load_fails(&p, None);
        assert!(matches!(e, ParamStoreError::UnknownMetadata { key: ref k, .. } if k == key));
    }

    // Unparsable and unsupported constraints, and constraints whose transform cannot take
    // the stored shape (lower_cholesky and positive_definite need square matrices,
    // corr_cholesky a last dim n(n-1)/2, softmax at least one dim).
    for (text, shape) in [
        ("positiv", vec![1]),
        ("interval(0, 1", vec![1]),
        ("boolean", vec![1]),
        ("interval(2, 1)", vec![1]),
        ("lower_cholesky", vec![1]),
        ("positive_definite", vec![1]),
        ("corr_cholesky", vec![2]),
        ("simplex", vec![]),
    ] {
        let p = dir.file("constraint.safetensors");
        let n: usize = shape.iter().product();
        write_raw(
            &p,
            &[("w", Dtype::F32, shape, f32_bytes(&vec![0.5; n]))],
            Some(good_meta("w", text)),
        );
        let e = load_fails(&p, Some("w"));
        assert!(
            matches!(e, ParamStoreError::BadConstraint { text: ref t, .. } if t == text),
            "{e}"
        );
    }

    // Malformed event_dim and index.
    for (key, value) in [
        ("event_dim:w", "-1"),
        ("event_dim:w", "2"),
        ("index:w", "1"),
        ("index:w", "x"),
    ] {
        let p = dir.file("badmeta.safetensors");
        let mut m = good_meta("w", "real");
        m.insert(key.into(), value.into());
        write_raw(
            &p,
            &[("w", Dtype::F32, vec![1], f32_bytes(&[0.5]))],
            Some(m),
        );
        let e = load_fails(&p, Some("w"));
        assert!(
            matches!(e, ParamStoreError::BadMetadata { key: ref k, .. } if k == key),
            "{e}"
        );
    }

    // Non-finite stored values.
    let p = dir.file("nan.safetensors");
    write_raw(
        &p,
        &[("w", Dtype::F32, vec![2], f32_bytes(&[0.5, f32::NAN]))],
        Some(good_meta("w", "real")),
    );
    let e = load_fails(&p, Some("w"));
    assert!(matches!(
        e,
        ParamStoreError::NonFiniteInFile { index: 1, .. }
    ));
}

/// A header whose offsets make the safetensors parser's size check overflow (a panic in
/// debug builds): still a typed error, never a panic.
#[test]
fn crafted_header_that_overflows_the_parser_is_an_error() {
    let dir = TempDir::new("overflow");
    let p = dir.file("evil.safetensors");
    let n_elem = (usize::MAX - 3) / 4; // 4 * n_elem = usize::MAX - 3
    let header = format!(
        r#"{{"w":{{"dtype":"F32","shape":[{n_elem}],"data_offsets":[0,{}]}}}}"#,
        4 * n_elem
    );
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 16]);
    std::fs::write(&p, bytes).unwrap();
    let e = load_fails(&p, None);
    assert!(
        matches!(
            e,
            ParamStoreError::Corrupt { .. } | ParamStoreError::Truncated { .. }
        ),
        "{e}"
    );
}
