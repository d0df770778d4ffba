//! # zoo-primitives: the building blocks of deep learning, from scratch
//!
//! Plain Rust, no dependencies, written to be read. Each module implements one idea of the
//! source article (items 12, 13, 14, 16, 17, 19, 20, 22 and 26 of `shared/seed/INDEX.md`)
//! correctly, with the shapes in the comments:
//!
//! * [`conv`]: 2-D cross-correlation (the deep-learning "conv2d") and true convolution, with
//!   stride, dilation, padding (valid, same, explicit), bias, channels and a batch; the one
//!   output-size formula ([`conv::output_size`]).
//! * [`pool`]: max and average pooling with window, stride and padding.
//! * [`activation`]: ReLU, LeakyReLU, sigmoid, tanh, GELU (with a precise `erf`) and softmax, each
//!   with its derivative (softmax: Jacobian-vector product).
//! * [`init`]: uniform, normal, Xavier/Glorot and He/Kaiming initialisers, fan-in/fan-out for
//!   dense and convolutional weights, and the small seeded RNG they draw from.
//! * [`backprop`]: logistic regression and a 2-layer MLP trained by hand-written gradients.
//! * [`article`]: the article's own NumPy code ported literally, bugs included, so tests and
//!   explanations can show what it computes next to the correct result.
//! * [`mod@explain`]: the worked examples behind `zoo explain TOPIC`.
//!
//! Tensors are the minimal [`Tensor4`] (NCHW `f32`, like Burn's image tensors) and [`Matrix`]
//! (row-major `f64`, for the backpropagation examples). The crate is checked against Burn in the
//! `zoo` package's tests; here it is checked against hand-computed cases, finite differences and
//! theory.

pub mod activation;
pub mod article;
pub mod backprop;
pub mod conv;
pub mod explain;
pub mod init;
pub mod pool;
pub mod tensor;

pub use conv::{ConvOptions, Padding, conv2d, convolve2d};
pub use explain::{TOPICS, explain};
pub use pool::{AvgPoolOptions, MaxPoolOptions, avg_pool2d, max_pool2d};
pub use tensor::{Matrix, Tensor4};
