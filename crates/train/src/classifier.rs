//! What every image classifier (`mlp`, `cnn`, `rnn`, ...) shares: the [`Classifier`] wrapper
//! with its softmax cross-entropy, the [`ClassifierRecipe`] trait, and the
//! [`ClassifierTrainer`] that plugs them into the one training loop (`crate::trainer`). A new
//! classifier implements [`ImageNet`] for its network (in its model file) and
//! `ClassifierRecipe` for its recipe; nothing else.

use burn::module::ParamGroup;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::train::ClassificationOutput;
use zoo_data::ImageSet;

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ZooError};
use crate::image_training::{ImageRecipe, ImageTrainer};
use crate::loader::ImageBatch;
use crate::parallel;
use crate::recipes::FitRecipe;
use crate::regularize::Regularization;

/// The metric of the weight penalty (L1 + L2) added to the training loss.
pub const PENALTY: &str = "Penalty";

pub use zoo_models::ImageNet;

/// An image network trained with softmax cross-entropy on its logits.
#[derive(Module, Debug)]
pub struct Classifier<N> {
    pub net: N,
}

impl<N: ImageNet> Classifier<N> {
    pub fn new(net: N) -> Self {
        Self { net }
    }

    /// Logits and the mean cross-entropy of a batch.
    pub fn forward_classification(&self, batch: ImageBatch) -> ClassificationOutput {
        let logits = self.net.logits(batch.images);
        let loss = CrossEntropyLossConfig::new().init(&logits.device()).forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

/// The recipe of an image classifier: its network and optimiser.
pub trait ClassifierRecipe: FitRecipe {
    type Net: ImageNet;
    fn optimizer(&self) -> &AdamConfig;
    /// L1/L2 penalties and weight decay.
    fn regularization(&self) -> &Regularization;
    fn num_classes(&self) -> usize;
    fn set_num_classes(&mut self, classes: usize);
    /// The network, its weights drawn from the device's seed.
    fn init(&self, device: &Device) -> Self::Net;
    /// A new run's network when it starts from trained weights (none: from [`init`](Self::init)).
    fn pretrained(&self, _device: &Device) -> Result<Option<Self::Net>> {
        Ok(None)
    }
    /// Parameter groups that learn at a share of the learning rate: `(group, share)`; paths
    /// start at the classifier (`net.backbone...`).
    fn lr_groups(&self) -> Vec<(ParamGroup, f64)> {
        Vec::new()
    }
    /// Settings beyond the fit and the penalties that cannot work, naming the field.
    fn check(&self) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Takes what the request says beyond the fit settings (`--from`).
    fn apply_request(&mut self, _request: &crate::image::TrainRequest) -> Result<()> {
        Ok(())
    }
}

impl<R: ClassifierRecipe> ImageRecipe for R {
    type Trainer = ClassifierTrainer<R>;

    fn trainer(&self, device: &Device) -> ClassifierTrainer<R> {
        device.seed(self.fit().seed);
        let train_device = device.clone().autodiff();
        ClassifierTrainer {
            model: Classifier::new(self.init(&train_device)),
            optimizer: self.fit().build_optimizer(self.optimizer(), self.regularization().weight_decay),
            held: HeldGradients::default(),
            recipe: self.clone(),
            train_device,
            device: device.clone(),
            replicas: Vec::new(),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.fit().classes.len() == 1 {
            return Err("fit.classes: a classifier needs at least 2 classes".to_string());
        }
        self.regularization().validate()?;
        self.check()
    }

    fn apply_request(&mut self, request: &crate::image::TrainRequest) -> Result<()> {
        ClassifierRecipe::apply_request(self, request)
    }

    fn initialise(&self, trainer: &mut ClassifierTrainer<R>, request: &crate::image::TrainRequest) -> Result<()> {
        if let Some(net) = self.pretrained(&trainer.train_device)? {
            trainer.model = Classifier::new(net);
        }
        if let Some(file) = &request.init_from {
            let net = crate::weights::import(trainer.model.net.clone(), file)?;
            trainer.model = Classifier::new(net);
            println!("starting from the weights of {}", file.display());
        }
        Ok(())
    }

    fn adapt_to(&mut self, train: &ImageSet) {
        // The labels decide the number of classes, whatever the recipe said.
        self.set_num_classes(train.num_classes);
    }

    fn describe_data(&self, train: &ImageSet) -> String {
        format!("{} classes", train.num_classes)
    }
}

/// A classifier with its Adam, trained on softmax cross-entropy; reports the loss and the
/// accuracy in percent.
pub struct ClassifierTrainer<R: ClassifierRecipe> {
    pub model: Classifier<R::Net>,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    recipe: R,
    train_device: Device,
    device: Device,
    /// The other devices of `--devices` (autodiff), each taking a shard of every batch.
    replicas: Vec<Device>,
}

impl<R: ClassifierRecipe> ImageTrainer for ClassifierTrainer<R> {
    const METRICS: &'static [MetricSpec] = &[MetricSpec::lower("Loss"), MetricSpec::higher("Accuracy")];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn lr_groups(&self) -> Vec<(ParamGroup, f64)> {
        self.recipe.lr_groups()
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut metrics = Self::METRICS.to_vec();
        if self.recipe.regularization().penalises() {
            metrics.push(MetricSpec::lower(PENALTY));
        }
        metrics
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        if !self.replicas.is_empty() {
            return self.train_batch_on_devices(batch, lr);
        }
        let size = batch.targets.dims()[0];
        let output = self.model.forward_classification(batch);
        // The loss reported stays the data's cross-entropy, comparable with validation's; the
        // penalty is a metric of its own.
        let penalty = self.recipe.regularization().penalty(&self.model);
        let objective = match &penalty {
            Some(penalty) => output.loss.clone() + penalty.clone(),
            None => output.loss.clone(),
        };
        let grads = GradientsParams::from_grads(objective.backward(), &self.model);
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        let mut values = metrics(output, size);
        if let Some(penalty) = penalty {
            values.push((PENALTY, f64::from(penalty.into_scalar::<f32>())));
        }
        values
    }

    fn spread_over(&mut self, replicas: &[Device]) -> Result<()> {
        if parallel::has_running_statistics(&self.model) {
            return Err(ZooError::usage(format!(
                "--devices: {} has batch normalisation, whose running statistics Burn 0.22.1 shares between a model's copies on several devices; train it on one device (--device)",
                R::NAME
            )));
        }
        self.replicas = replicas.iter().map(|device| device.clone().autodiff()).collect();
        Ok(())
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let size = batch.targets.dims()[0];
        metrics(self.model.valid().forward_classification(batch), size)
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }

    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()> {
        let fresh = Classifier::new(self.recipe.init(&self.train_device));
        let optimizer =
            self.recipe.fit().build_optimizer(self.recipe.optimizer(), self.recipe.regularization().weight_decay);
        (self.model, self.optimizer) = load_model_and_optimizer(parts, fresh, optimizer)?;
        Ok(())
    }

    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
}

impl<R: ClassifierRecipe> ClassifierTrainer<R> {
    /// [`train_batch`](ImageTrainer::train_batch) with the batch spread over the main device
    /// and the replicas (`--devices`); see [`parallel`].
    fn train_batch_on_devices(
        &mut self,
        batch: ImageBatch,
        lr: Option<&ModuleLearningRate>,
    ) -> Vec<(&'static str, f64)> {
        let regularization = self.recipe.regularization();
        let (grads, shards) = parallel::gradients(&self.model, batch, &self.replicas, |model, shard, share, main| {
            let size = shard.targets.dims()[0];
            let output = model.forward_classification(shard);
            let penalty = if main { regularization.penalty(model) } else { None };
            let mut objective = output.loss.clone() * share;
            if let Some(penalty) = &penalty {
                objective = objective + penalty.clone();
            }
            let grads = GradientsParams::from_grads(objective.backward(), model);
            let mut values = metrics(output, size);
            if let Some(penalty) = penalty {
                // Only the main shard reports the penalty (a term of the weights alone), and
                // the shards' metrics are averaged by size: divided by its share, it comes out
                // whole.
                values.push((PENALTY, f64::from(penalty.into_scalar::<f32>()) / share));
            }
            (grads, values)
        });
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        parallel::combine_metrics(shards)
    }
}

/// The loss and accuracy of a batch of `size`, read back from the device.
fn metrics(output: ClassificationOutput, size: usize) -> Vec<(&'static str, f64)> {
    let loss = f64::from(output.loss.into_scalar::<f32>());
    let predicted = output.output.argmax(1).flatten::<1>(0, 1);
    // Backends differ in the integer type argmax returns (ndarray: i64, flex: i32), and
    // targets moved from another device keep theirs.
    let targets = output.targets.cast(predicted.dtype());
    let correct = predicted.equal(targets).int().sum().into_scalar::<i64>();
    vec![("Loss", loss), ("Accuracy", 100.0 * correct as f64 / size.max(1) as f64)]
}
