//! `transfer` (items 11 and 18): a new head on the backbone of a trained `cnn` or `resnet` run,
//! fine-tuned frozen, from its last stage, or whole at a smaller learning rate; without
//! `--from`, the same network trained from scratch (the experiment's baseline).

use burn::module::ParamGroup;
use burn::optim::AdamConfig;
use burn::prelude::*;
use zoo_models::{Backbone, BackboneConfig, FineTuning, Transfer, TransferConfig};

use crate::classifier::ClassifierRecipe;
use crate::error::{Result, ZooError};
use crate::fit::FitConfig;
use crate::image::{TrainRequest, load_classifier};
use crate::recipes::{CnnRecipe, Recipe, ResNetRecipe};
use crate::regularize::Regularization;
use crate::run::RunDir;

/// Recipe of `transfer`.
#[derive(Config, Debug)]
pub struct TransferRecipe {
    /// The backbone (set from the `--from` run), the head and what fine-tuning trains.
    pub model: TransferConfig,
    /// Adam's moments and epsilon (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    /// Epochs, batch size, learning rate, seed, classes and share of labels.
    pub fit: FitConfig,
    /// L1/L2 penalties and decoupled weight decay (all off by default).
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
    /// The pretrained network (`--from`): a run folder, or a weights file of the backbone's
    /// whole network (`model.backbone` says which); empty: trained from scratch.
    #[config(default = "String::new()")]
    pub from: String,
    /// `Whole` fine-tuning: the backbone's learning rate as a share of `fit.learning_rate`.
    #[config(default = 0.1)]
    pub backbone_lr_share: f64,
}

impl Recipe for TransferRecipe {
    const NAME: &'static str = "transfer";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(10).with_batch_size(32);
        Self::new(TransferConfig::new(), AdamConfig::new().with_epsilon(1e-7), fit)
    }
}

crate::classifier_recipe!(TransferRecipe => Transfer; {
    fn pretrained(&self, device: &Device) -> Result<Option<Transfer>> {
        if self.from.is_empty() {
            return Ok(None);
        }
        let from = std::path::Path::new(&self.from);
        let backbone = if from.is_file() {
            // A weights file of the backbone's whole network, with its parameter names.
            match self.model.backbone.init(device) {
                Backbone::Cnn(net) => Backbone::Cnn(crate::weights::import(net, from)?),
                Backbone::ResNet(net) => Backbone::ResNet(crate::weights::import(net, from)?),
                Backbone::Vgg16(net) => Backbone::Vgg16(crate::weights::import(net, from)?),
            }
        } else {
            let run = source_run(from)?;
            match run.1.as_str() {
                "cnn" => Backbone::Cnn(load_classifier::<CnnRecipe>(&run.0, device)?.1.net),
                _ => Backbone::ResNet(load_classifier::<ResNetRecipe>(&run.0, device)?.1.net),
            }
        };
        Ok(Some(self.model.init_with(backbone, device)))
    }

    fn lr_groups(&self) -> Vec<(ParamGroup, f64)> {
        match self.model.fine_tuning {
            FineTuning::Whole if self.backbone_lr_share != 1.0 => {
                vec![(ParamGroup::from_predicate("backbone"), self.backbone_lr_share)]
            }
            _ => Vec::new(),
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.from.is_empty() && self.model.fine_tuning != FineTuning::Whole {
            return Err(format!(
                "fine-tuning {:?} needs a pretrained network: give --from RUN (a cnn or resnet run), or set model.fine_tuning to \"Whole\" to train the network from scratch",
                self.model.fine_tuning
            ));
        }
        if !(self.backbone_lr_share > 0.0 && self.backbone_lr_share <= 1.0) {
            return Err(format!("backbone_lr_share {} must be above 0 and at most 1", self.backbone_lr_share));
        }
        Ok(())
    }

    fn apply_request(&mut self, request: &TrainRequest) -> Result<()> {
        let from = match &request.from {
            Some(path) => path.clone(),
            None if !self.from.is_empty() => std::path::PathBuf::from(&self.from),
            None => return Ok(()),
        };
        let absolute = std::fs::canonicalize(&from).unwrap_or_else(|_| from.clone());
        if from.is_file() {
            // A weights file: the backbone is the recipe's (`model.backbone`), checked on load.
            self.from = absolute.display().to_string();
            return Ok(());
        }
        let (run, model) = source_run(&from)?;
        // The backbone's architecture is the source run's; its weights load in `pretrained`.
        self.model.backbone = match model.as_str() {
            "cnn" => BackboneConfig::Cnn(run.read_recipe::<CnnRecipe>()?.model),
            _ => BackboneConfig::ResNet(run.read_recipe::<ResNetRecipe>()?.model),
        };
        self.from = absolute.display().to_string();
        Ok(())
    }
});

/// The pretrained run `path` and its model, which must be one a backbone can come from.
fn source_run(path: &std::path::Path) -> Result<(RunDir, String)> {
    let model = if path.join("run.json").is_file() {
        let info: crate::run::RunInfo = serde_json::from_str(
            &std::fs::read_to_string(path.join("run.json"))
                .map_err(|e| ZooError::usage(format!("{}: cannot read run.json ({e})", path.display())))?,
        )
        .map_err(|e| ZooError::usage(format!("{}: run.json is damaged ({e})", path.display())))?;
        info.model
    } else {
        String::new()
    };
    if model != "cnn" && model != "resnet" {
        return Err(ZooError::usage(format!(
            "{}: --from takes a run folder of `zoo train cnn` or `zoo train resnet`, or a weights file (.pt, .pth, .safetensors){}",
            path.display(),
            if model.is_empty() { String::new() } else { format!(" (this is a {model} run)") }
        )));
    }
    Ok((RunDir::open(path, &model)?.0, model))
}
