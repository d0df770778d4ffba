//! zoo's layers: Burn's layers whose `forward` runs zoo's CPU kernels where they apply (flex,
//! f32; see [`kernels`](crate::kernels)) and Burn's own operation everywhere else. A model
//! written with these types gets the fast CPU path from ordinary Burn code:
//!
//! ```ignore
//! use burn::nn::conv::Conv2dConfig;
//! use zoo_models::nn::Conv2d;
//!
//! #[derive(Module, Debug)]
//! struct Net { conv: Conv2d }
//! let net = Net { conv: Conv2dConfig::new([1, 8], [3, 3]).init(device).into() };
//! let y = net.conv.forward(x); // zoo's convolution on flex, Burn's elsewhere
//! ```
//!
//! Each wraps the Burn layer it is made from and is the same module to Burn: its parameters
//! are the Burn layer's, under the same names, so weights saved from the Burn layer load into
//! it and back. Its fields and methods are the Burn layer's too (it dereferences to it).

use burn::module::{Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor};
use burn::nn;
use burn::prelude::*;

use crate::kernels;

/// A layer of zoo wrapping the Burn layer `$burn`: the same module (parameters, names,
/// record, display), a different `forward`.
macro_rules! zoo_layer {
    ($(#[$doc:meta])* $name:ident wraps $burn:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            inner: $burn,
        }

        impl From<$burn> for $name {
            fn from(inner: $burn) -> Self {
                Self { inner }
            }
        }

        impl core::ops::Deref for $name {
            type Target = $burn;
            fn deref(&self) -> &$burn {
                &self.inner
            }
        }

        impl core::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $burn {
                &mut self.inner
            }
        }

        // Every method hands over to the Burn layer without entering a module of its own, so
        // the parameters keep the Burn layer's paths (`conv1.weight`, not `conv1.inner.weight`).
        impl Module for $name {
            fn collect_devices(&self, devices: Devices) -> Devices {
                self.inner.collect_devices(devices)
            }
            fn fork(self, device: &Device) -> Self {
                Self { inner: self.inner.fork(device) }
            }
            fn to_device(self, device: &Device) -> Self {
                Self { inner: self.inner.to_device(device) }
            }
            fn train(self) -> Self {
                Self { inner: self.inner.train() }
            }
            fn valid(&self) -> Self {
                Self { inner: self.inner.valid() }
            }
            fn materialize(self) -> Self {
                Self { inner: self.inner.materialize() }
            }
            fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
                self.inner.visit(visitor)
            }
            fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
                Self { inner: self.inner.map(mapper) }
            }
        }

        impl ModuleDisplayDefault for $name {
            fn content(&self, content: Content) -> Option<Content> {
                self.inner.content(content)
            }
            fn num_params(&self) -> usize {
                Module::num_params(&self.inner)
            }
        }

        impl ModuleDisplay for $name {
            fn custom_content(&self, content: Content) -> Option<Content> {
                self.inner.custom_content(content)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.inner.fmt(f)
            }
        }
    };
}

zoo_layer!(
    /// 2-d convolution: zoo's im2col onto `gemm`, with its own backward pass.
    Conv2d wraps nn::conv::Conv2d
);

impl Conv2d {
    /// # Shapes
    /// - input: `[batch, channels_in, height, width]`; output `[batch, channels_out, height', width']`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        kernels::conv::conv2d(&self.inner, input)
    }
}

zoo_layer!(
    /// 2-d transposed convolution: zoo's gemm + col2im, with its own backward pass.
    ConvTranspose2d wraps nn::conv::ConvTranspose2d
);

impl ConvTranspose2d {
    /// # Shapes
    /// - input: `[batch, channels_in, height, width]`; output `[batch, channels_out, height', width']`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        kernels::conv::conv_transpose2d(&self.inner, input)
    }
}

zoo_layer!(
    /// 2-d max pooling without padding: zoo's kernel, which records the winners for the
    /// backward pass.
    MaxPool2d wraps nn::pool::MaxPool2d
);

impl MaxPool2d {
    /// # Shapes
    /// - input: `[batch, channels, height, width]`; output `[batch, channels, height', width']`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        kernels::pool::max_pool2d(&self.inner, input)
    }
}

zoo_layer!(
    /// Dropout: one pass that draws the mask and scales, in training on flex.
    Dropout wraps nn::Dropout
);

impl Dropout {
    /// Any shape; the output has the input's.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        kernels::dropout::dropout(&self.inner, input)
    }
}

zoo_layer!(
    /// Batch normalisation; [`forward_leaky_relu`](Self::forward_leaky_relu) fuses it with the
    /// LeakyReLU that follows it in the DCGAN (one kernel with its own backward pass).
    BatchNorm wraps nn::BatchNorm
);

impl BatchNorm {
    /// Batch normalisation: zoo's kernel in training on flex (the fused one at slope 1),
    /// Burn's elsewhere.
    ///
    /// # Shapes
    /// - input: `[batch, features, ...]`; output: the input's shape
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        kernels::batch_norm::batch_norm(&self.inner, input)
    }

    /// `leaky_relu(batch_norm(input), slope)`, as one kernel in training on flex.
    ///
    /// # Shapes
    /// - input: `[batch, features, ...]`; output: the input's shape
    pub fn forward_leaky_relu<const D: usize>(&self, input: Tensor<D>, slope: f64) -> Tensor<D> {
        kernels::batch_norm::batch_norm_leaky_relu(&self.inner, input, slope)
    }
}

/// `relu(x)`: zoo's kernel across the thread pool on large flex tensors (Burn's runs on one
/// thread), Burn's elsewhere.
///
/// # Shapes
/// - x: any; output: x's
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    kernels::activation::leaky_relu_fused(x, 0.0)
}

/// `gelu(x)` with the exact normal CDF, as Burn's: zoo's kernel (its own erf, across the
/// thread pool) on large flex tensors.
///
/// # Shapes
/// - x: any; output: x's
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    kernels::gelu::gelu_fused(x)
}

/// `softmax(x * scale)` along the last dimension (attention's scaled softmax): zoo's kernel
/// (one read of a row for its maximum, one to exponentiate and sum, across the thread pool)
/// on large flex tensors, Burn's elsewhere.
///
/// # Shapes
/// - x: any; output: x's
pub fn softmax_scaled<const D: usize>(x: Tensor<D>, scale: f64) -> Tensor<D> {
    kernels::softmax::softmax_scaled(x, scale)
}

/// `leaky_relu(x, slope)`, as [`relu`] runs it.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    kernels::activation::leaky_relu_fused(x, slope)
}

/// `relu(a + b)`: a residual block's closing sum and activation in one pass (zoo's kernel on
/// large flex tensors).
///
/// # Shapes
/// - a, b: the same shape; output: theirs
pub fn add_relu<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    kernels::activation::add_leaky_relu(a, b, 0.0)
}
