//! The models of zoo, one file per model: a `XConfig` with documented defaults, the module
//! `X`, `init` and `forward`. Nothing here knows about optimisers, data or files.

pub mod attention;
pub mod autoencoder;
pub mod cnn;
pub mod crossmodal;
pub mod gan;
pub mod kernels;
pub mod lstm;
pub mod mlp;
pub mod multitask;
pub mod nn;
pub mod qnet;
pub mod resnet;
pub mod rnn;
pub mod transfer;
pub mod transformer;
pub mod vae;
pub mod vgg;

pub use attention::{AttentionPooling, AttentionPoolingConfig, causal_mask, padding_mask};
pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderKind, bernoulli_nll};
pub use cnn::{Cnn, CnnConfig};
pub use crossmodal::{CrossModal, CrossModalConfig};
pub use gan::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
pub use lstm::{CharLstm, CharLstmConfig, FusedLstmLayer, LstmForecaster, LstmForecasterConfig, LstmStates};
pub use mlp::{Mlp, MlpConfig};
pub use multitask::{MultiTask, MultiTaskConfig, MultiTaskOutput};
pub use qnet::{QNet, QNetConfig};
pub use resnet::{ResNet, ResNetConfig, ResidualBlock};
pub use rnn::{Rnn, RnnConfig};
pub use transfer::{Backbone, BackboneConfig, FineTuning, Transfer, TransferConfig};
pub use transformer::{CharTransformer, CharTransformerConfig, TextClassifier, TextClassifierConfig};
pub use vae::{Vae, VaeConfig, VaeKind, VaeOutput, kl_divergence};
pub use vgg::{Vgg16, Vgg16Config};

/// Side of the square greyscale images the image models take (MNIST's 28x28).
pub const IMAGE_SIDE: usize = 28;

/// A network that maps a batch of images to class logits: what an image classifier is to
/// zoo's training loop, its evaluation and `zoo predict`.
pub trait ImageNet: burn::module::Module + burn::module::ModuleDisplay + core::fmt::Display + 'static {
    /// # Shapes
    /// - images: `[batch, channels, height, width]` (MNIST: `[batch, 1, 28, 28]`)
    /// - output: `[batch, num_classes]`
    fn logits(&self, images: burn::prelude::Tensor<4>) -> burn::prelude::Tensor<2>;
}
