//! Tensor read-backs that fail loudly: a value that cannot be read from the device is an
//! error naming what was read, never an empty vector counted as zero.

use burn::prelude::*;

use crate::error::{Result, ZooError};

/// A float tensor's values as `f32`s, in row-major order.
pub fn floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ZooError::runtime(format!("reading a tensor back from the device: {e:?}")))
}

/// An integer tensor's values as `i64`s, in row-major order.
pub fn ints<const D: usize>(tensor: Tensor<D, Int>) -> Result<Vec<i64>> {
    tensor
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| ZooError::runtime(format!("reading a tensor back from the device: {e:?}")))
}
