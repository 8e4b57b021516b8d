//! The operations a model needs on typed [`Tensor`](super::typed::Tensor)s beyond
//! elementwise arithmetic: reductions over an axis, matrix products, indexing, joining,
//! reshaping, gathering, comparisons and selection, softmax.
