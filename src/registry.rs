//! The model registry: every model zoo knows, declared once. `zoo list`, the model argument of
//! every command (its possible values and `--help`), `zoo config`, the dispatch of each command
//! and the "does not apply" errors are all read from [`MODELS`]. A model's name is its recipe's
//! `NAME`; adding a model is adding a row here.

use clap::builder::PossibleValue;
use zoo_train::classifier::ClassifierRecipe;
use zoo_train::crossmodal::CrossModalRecipe;
use zoo_train::forecast::LstmRecipe;
use zoo_train::generative::autoencoder::AutoencoderRecipe;
use zoo_train::generative::gan::GanRecipe;
use zoo_train::generative::vae::VaeRecipe;
use zoo_train::inference;
use zoo_train::language::{CharLstmRecipe, GptRecipe, LanguageRecipe};
use zoo_train::multitask::MultiTaskRecipe;
use zoo_train::recipes::{CnnRecipe, MlpRecipe, Recipe, ResNetRecipe, RnnRecipe, default_json};
use zoo_train::rl::dqn::DqnRecipe;
use zoo_train::rl::qlearning::QLearningRecipe;
use zoo_train::textclass::AttentionRecipe;
use zoo_train::transfer::TransferRecipe;
use zoo_train::{Result, ZooError};

use crate::cli::{CvArgs, EvalArgs, ExportArgs, PlayArgs, PredictArgs, SampleArgs, TrainArgs};
use crate::commands as run;

/// The commands a model may support besides `train` and `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Train,
    Eval,
    Sample,
    Predict,
    Play,
    Cv,
    Export,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Train => "train",
            Verb::Eval => "eval",
            Verb::Sample => "sample",
            Verb::Predict => "predict",
            Verb::Play => "play",
            Verb::Cv => "cv",
            Verb::Export => "export",
        }
    }
}

/// One model: its name, what it is, its commands and the flags each command takes beyond
/// `--run`, `--config`, `--run-dir`, `--resume`, `--device` and `--out`, which every model has.
pub struct Entry {
    pub name: &'static str,
    pub summary: &'static str,
    /// `zoo config`: the default recipe as pretty JSON.
    pub config: fn() -> String,
    pub train: fn(TrainArgs) -> Result<()>,
    pub train_flags: &'static [&'static str],
    pub eval: Option<fn(EvalArgs) -> Result<()>>,
    pub eval_flags: &'static [&'static str],
    pub sample: Option<fn(SampleArgs) -> Result<()>>,
    pub sample_flags: &'static [&'static str],
    pub predict: Option<fn(PredictArgs) -> Result<()>>,
    pub predict_flags: &'static [&'static str],
    pub play: Option<fn(PlayArgs) -> Result<()>>,
    pub cv: Option<fn(CvArgs) -> Result<()>>,
    pub export: Option<fn(ExportArgs) -> Result<()>>,
    /// `zoo serve`: loads a trained run to answer requests (None: the run is only listed).
    pub serve: Option<crate::serve::worker::Loader>,
}

/// The flags of an image model's `train`.
const IMAGE_TRAIN: &[&str] = &["--epochs", "--batch-size", "--lr", "--seed", "--limit", "--data"];
/// The flags of `sample` for pictures and for text.
const PICTURES: &[&str] = &["--n", "--seed"];
const TEXT: &[&str] = &["--prompt", "--len", "--temperature", "--seed"];

impl Entry {
    /// A model of recipe `R` that trains with `train`, taking `train_flags`; its other commands
    /// are added with [`eval`](Self::eval), [`sample`](Self::sample), [`predict`](Self::predict)
    /// and [`play`](Self::play).
    fn new<R: Recipe>(
        summary: &'static str,
        train: fn(TrainArgs) -> Result<()>,
        train_flags: &'static [&'static str],
    ) -> Self {
        Self {
            name: R::NAME,
            summary,
            config: default_json::<R>,
            train,
            train_flags,
            eval: None,
            eval_flags: &[],
            sample: None,
            sample_flags: &[],
            predict: None,
            predict_flags: &[],
            play: None,
            cv: None,
            export: None,
            serve: None,
        }
    }

    fn eval(mut self, eval: fn(EvalArgs) -> Result<()>, flags: &'static [&'static str]) -> Self {
        (self.eval, self.eval_flags) = (Some(eval), flags);
        self
    }

    fn sample(mut self, sample: fn(SampleArgs) -> Result<()>, flags: &'static [&'static str]) -> Self {
        (self.sample, self.sample_flags) = (Some(sample), flags);
        self
    }

    fn predict(mut self, predict: fn(PredictArgs) -> Result<()>, flags: &'static [&'static str]) -> Self {
        (self.predict, self.predict_flags) = (Some(predict), flags);
        self
    }

    fn play(mut self, play: fn(PlayArgs) -> Result<()>) -> Self {
        self.play = Some(play);
        self
    }

    fn cv(mut self, cv: fn(CvArgs) -> Result<()>) -> Self {
        self.cv = Some(cv);
        self
    }

    fn export(mut self, export: fn(ExportArgs) -> Result<()>) -> Self {
        self.export = Some(export);
        self
    }

    fn serve(mut self, load: crate::serve::worker::Loader) -> Self {
        self.serve = Some(load);
        self
    }
}

/// The flags of an image classifier's `train`.
const CLASSIFIER_TRAIN: &[&str] =
    &["--epochs", "--batch-size", "--lr", "--seed", "--limit", "--data", "--init-from", "--devices"];

/// An image classifier's row.
fn classifier<R: ClassifierRecipe + 'static>(summary: &'static str) -> Entry {
    classifier_with::<R>(summary, CLASSIFIER_TRAIN)
}

/// An image classifier's row whose `train` takes `train_flags`.
fn classifier_with<R: ClassifierRecipe + 'static>(
    summary: &'static str,
    train_flags: &'static [&'static str],
) -> Entry {
    Entry::new::<R>(summary, run::train_image::<R>, train_flags)
        .eval(run::eval_classifier::<R>, &["--data", "--train-split"])
        .sample(run::sample_augmented::<R>, &["--augmented", "--n", "--seed", "--config", "--data"])
        .predict(run::predict_classifier::<R>, &[])
        .cv(run::cv_classifier::<R>)
        .export(run::export_classifier::<R>)
        .serve(inference::classifier::<R>)
}

/// A character language model's row.
fn language<R: LanguageRecipe + 'static>(summary: &'static str) -> Entry {
    Entry::new::<R>(summary, run::train_language::<R>, &["--epochs", "--batch-size", "--lr", "--seed", "--data"])
        .eval(run::eval_language::<R>, &[])
        .sample(run::sample_language::<R>, TEXT)
        .serve(inference::language::<R>)
}

/// Every model, in the order `zoo list` shows them.
pub fn models() -> Vec<Entry> {
    vec![
        classifier::<MlpRecipe>(
            "multilayer perceptron on 28x28 images: 784 -> 128 ReLU -> dropout 0.2 -> classes (item 1)",
        ),
        classifier::<CnnRecipe>(
            "convolutional network: two 3x3 conv + max-pool stages, dense 128, classes (items 3, 7)",
        ),
        classifier::<RnnRecipe>("stacked simple RNNs (100 ReLU x 2) reading 28x28 images row by row (item 23)"),
        classifier::<ResNetRecipe>(
            "residual network: item 28's block (conv 3x3, ReLU, conv 3x3, + input, ReLU) in stages, pooled, dense (item 28)",
        ),
        Entry::new::<LstmRecipe>(
            "LSTM of 50 units forecasting a series from 50 past values: births, CO2, sunspots or a CSV (item 9)",
            run::train_forecast,
            &["--epochs", "--batch-size", "--lr", "--seed", "--data", "--season"],
        )
        .eval(run::eval_forecast, &[]),
        classifier_with::<TransferRecipe>(
            "transfer learning: a new head on a cnn or resnet run's backbone or VGG16 weights (--from), frozen or fine-tuned (items 11, 18)",
            &["--epochs", "--batch-size", "--lr", "--seed", "--limit", "--data", "--from", "--init-from"],
        ),
        language::<CharLstmRecipe>("character language model of two LSTM layers (item 9's network on Moby Dick)"),
        Entry::new::<AutoencoderRecipe>(
            "autoencoder of 28x28 images: dense 784-128-32-128-784, or convolutional (item 25)",
            run::train_image::<AutoencoderRecipe>,
            IMAGE_TRAIN,
        )
        .eval(run::eval_autoencoder, &["--data"])
        .sample(run::sample_autoencoder, &["--n"]),
        Entry::new::<VaeRecipe>(
            "variational autoencoder: convolutional with a 2-d latent, or dense 784-400-20 (item 10)",
            run::train_image::<VaeRecipe>,
            IMAGE_TRAIN,
        )
        .eval(run::eval_vae, &["--data"])
        .sample(run::sample_vae, PICTURES)
        .serve(inference::vae),
        Entry::new::<GanRecipe>(
            "DCGAN: transposed-convolution generator from 100-d noise, convolutional discriminator (items 6, 8, 15)",
            run::train_image::<GanRecipe>,
            IMAGE_TRAIN,
        )
        .eval(run::eval_gan, &["--judge", "--samples", "--seed", "--trained", "--images"])
        .sample(run::sample_gan, &["--n", "--seed", "--trained", "--digit"])
        .serve(inference::gan),
        Entry::new::<MultiTaskRecipe>(
            "multi-task network: a shared conv trunk, one head for the digit, one for its box, on 64x64 canvases (item 30)",
            run::train_image::<MultiTaskRecipe>,
            IMAGE_TRAIN,
        )
        .eval(run::eval_multitask, &["--data"])
        .sample(run::sample_multitask, &["--n"])
        .predict(run::predict_multitask, &["--out"])
        .serve(inference::multitask),
        Entry::new::<CrossModalRecipe>(
            "cross-modal matching: does an English or Chinese caption describe this digit? text LSTM + image conv towers (item 29)",
            run::train_image::<CrossModalRecipe>,
            IMAGE_TRAIN,
        )
        .eval(run::eval_crossmodal, &["--data"])
        .predict(run::predict_crossmodal, &["--text"]),
        Entry::new::<QLearningRecipe>(
            "tabular Q-learning on the 10-state chain (item 4)",
            run::train_qlearning,
            &["--steps", "--episodes", "--lr", "--seed"],
        )
        .eval(run::eval_qlearning, &["--episodes", "--seed"]),
        Entry::new::<DqnRecipe>(
            "deep Q-network on CartPole-v1: replay buffer, target network, Huber loss (item 5)",
            run::train_dqn,
            &["--steps", "--batch-size", "--lr", "--seed"],
        )
        .eval(run::eval_dqn, &["--episodes", "--seed"])
        .play(run::play_dqn)
        .serve(inference::dqn),
        Entry::new::<AttentionRecipe>(
            "transformer text classifier with attention pooling: speeches by party, or your JSONL/CSV (item 24)",
            run::train_attention,
            &["--epochs", "--batch-size", "--lr", "--seed", "--limit", "--data", "--text-field", "--label-field"],
        )
        .eval(run::eval_attention, &[])
        .predict(run::predict_attention, &[])
        .serve(inference::text_classifier),
        language::<GptRecipe>(
            "small GPT: causal self-attention character language model (item 24's attention on Moby Dick)",
        ),
    ]
}

impl Entry {
    /// Whether the model supports `verb`.
    pub fn supports(&self, verb: Verb) -> bool {
        match verb {
            Verb::Train => true,
            Verb::Eval => self.eval.is_some(),
            Verb::Sample => self.sample.is_some(),
            Verb::Predict => self.predict.is_some(),
            Verb::Play => self.play.is_some(),
            Verb::Cv => self.cv.is_some(),
            Verb::Export => self.export.is_some(),
        }
    }

    /// The commands it supports, for messages.
    pub fn verbs(&self) -> String {
        let all = [Verb::Train, Verb::Eval, Verb::Sample, Verb::Predict, Verb::Play, Verb::Cv, Verb::Export];
        all.iter().filter(|v| self.supports(**v)).map(|v| v.name()).collect::<Vec<_>>().join(", ")
    }

    /// Refuses the flags in `given` that `verb` of this model does not take, naming those it does.
    pub fn check_flags(&self, verb: Verb, given: &[&'static str]) -> Result<()> {
        let takes = match verb {
            Verb::Train => self.train_flags,
            Verb::Eval => self.eval_flags,
            Verb::Sample => self.sample_flags,
            Verb::Predict => self.predict_flags,
            Verb::Play | Verb::Cv | Verb::Export => &[],
        };
        match given.iter().find(|flag| !takes.contains(flag)) {
            None => Ok(()),
            Some(flag) => {
                let instead = if takes.is_empty() {
                    "it takes none of the optional flags".to_string()
                } else {
                    format!("it takes {}", takes.join(", "))
                };
                Err(ZooError::usage(format!("{flag} does not apply to `zoo {} {}`; {instead}", verb.name(), self.name)))
            }
        }
    }
}

/// The row of `name`, for `verb`: a model without that command is a usage error that names
/// the commands it has.
pub fn find(name: &str, verb: Verb) -> Result<Entry> {
    let entry = models()
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| ZooError::usage(format!("no model `{name}`; `zoo list` names them")))?;
    if !entry.supports(verb) {
        let others: Vec<&str> = models().into_iter().filter(|m| m.supports(verb)).map(|m| m.name).collect();
        return Err(ZooError::usage(format!(
            "`zoo {}` does not apply to {name} (it has {}); the models with it: {}",
            verb.name(),
            entry.verbs(),
            others.join(", ")
        )));
    }
    Ok(entry)
}

/// The model argument of a command: any model's name parses (a model without the command gets
/// its one-line error from [`find`]); `--help` lists the models that have the command.
#[derive(Clone, Copy, Debug)]
pub struct ModelArg {
    verb: Option<Verb>,
}

/// The model argument of `verb` (None: every model, as `zoo config` takes).
pub fn model_arg(verb: Option<Verb>) -> ModelArg {
    ModelArg { verb }
}

impl clap::builder::TypedValueParser for ModelArg {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<String, clap::Error> {
        let name = value.to_string_lossy();
        if models().iter().any(|m| m.name == name) {
            Ok(name.into_owned())
        } else {
            let names: Vec<&str> = models().into_iter().map(|m| m.name).collect();
            let message =
                format!("no model `{name}`; the models are {} (`zoo list` says what each is)\n", names.join(", "));
            Err(clap::Error::raw(clap::error::ErrorKind::InvalidValue, message))
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let values: Vec<PossibleValue> = models()
            .into_iter()
            .filter(|m| self.verb.is_none_or(|v| m.supports(v)))
            .map(|m| PossibleValue::new(m.name).help(m.summary))
            .collect();
        Some(Box::new(values.into_iter()))
    }
}
