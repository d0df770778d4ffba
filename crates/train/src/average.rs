//! Exponential moving average of a module's weights, `average = decay average + (1 - decay)
//! trained` after every step (Polyak averaging as GANs use it: the averaged generator draws
//! better images than the oscillating one being trained). Every float tensor of the module
//! moves, batch norm's running statistics included (the GAN then replaces those by standing
//! statistics before drawing).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Every float tensor of a module, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().flatten(0, D - 1));
    }
}

/// Blends each float tensor with the next collected one.
struct Blend {
    decay: f64,
    sources: std::vec::IntoIter<Tensor<1>>,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let source = self.sources.next().expect("the average and the trained module have the same tensors");
        let decay = self.decay;
        param.map(|average| {
            let dims = average.dims();
            average * decay + source.reshape(dims) * (1.0 - decay)
        })
    }
}

/// `average` moved toward `trained` (same architecture; `trained` may be an autodiff module:
/// its values are read without their graph).
pub fn update_average<M: Module>(average: M, trained: &M, decay: f64) -> M {
    let mut collect = Collect(Vec::new());
    trained.valid().visit(&mut collect);
    average.map(&mut Blend { decay, sources: collect.0.into_iter() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct Small {
        linear: Linear,
        norm: BatchNorm,
    }

    fn floats(module: &Small) -> Vec<f32> {
        let mut collect = Collect(Vec::new());
        module.visit(&mut collect);
        collect.0.into_iter().flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap()).collect()
    }

    #[test]
    fn every_float_moves_by_the_decay_running_statistics_included() {
        let device = Device::flex();
        device.seed(3);
        let small =
            || Small { linear: LinearConfig::new(3, 4).init(&device), norm: BatchNormConfig::new(4).init(&device) };
        let (average, trained) = (small(), small());
        // Training mode moves the running statistics away from their initial 0 and 1.
        let trained_device = device.clone().autodiff();
        let trained = trained.fork(&trained_device);
        trained.norm.forward(Tensor::<2>::random(
            [8, 4],
            burn::tensor::Distribution::Normal(2.0, 3.0),
            &trained_device,
        ));
        let (a, t) = (floats(&average), floats(&trained.valid()));
        assert_eq!(a.len(), 3 * 4 + 4 + 4 * 4, "weights, bias, gamma, beta, running mean and variance");
        let moved = floats(&update_average(average, &trained, 0.75));
        for ((a, t), m) in a.iter().zip(&t).zip(&moved) {
            assert!((m - (0.75 * a + 0.25 * t)).abs() < 1e-6, "{a} {t} -> {m}");
        }
        // Both start with gamma 1 and beta 0; the rest differs (running statistics included).
        assert_eq!(a.iter().zip(&t).filter(|(a, t)| a != t).count(), a.len() - 8);
    }
}
