//! Item 9 of the source document: an LSTM of 50 units reads a window of past values and a
//! dense layer predicts the next one. Burn's `Lstm` does the recurrence.

use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::prelude::*;

/// Configuration of [`LstmForecaster`].
#[derive(Config, Debug)]
pub struct LstmForecasterConfig {
    /// Units of the LSTM (the article: 50).
    #[config(default = 50)]
    pub hidden: usize,
}

/// One-step-ahead forecaster of a univariate series.
#[derive(Module, Debug)]
pub struct LstmForecaster {
    lstm: Lstm,
    output: Linear,
}

impl LstmForecasterConfig {
    pub fn init(&self, device: &Device) -> LstmForecaster {
        LstmForecaster {
            lstm: LstmConfig::new(1, self.hidden, true).init(device),
            output: LinearConfig::new(self.hidden, 1).init(device),
        }
    }
}

impl LstmForecaster {
    /// The next value after each window.
    ///
    /// # Shapes
    /// - windows: `[batch, steps]`, normalised values, oldest first
    /// - output: `[batch]`
    pub fn forward(&self, windows: Tensor<2>) -> Tensor<1> {
        let [batch, steps] = windows.dims();
        let (_, state) = self.lstm.forward(windows.reshape([batch, steps, 1]), None);
        self.output.forward(state.hidden).reshape([batch]) // [batch, hidden] -> [batch]
    }
}

/// Configuration of [`CharLstm`].
#[derive(Config, Debug)]
pub struct CharLstmConfig {
    /// Characters the model reads and predicts (the tokeniser's vocabulary, unknown included).
    pub vocab: usize,
    /// Units of each LSTM layer.
    #[config(default = 512)]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Dropout between layers and before the output (Zaremba et al.'s placement).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Added to the forget gate's bias at initialisation, so the cell keeps its memory from
    /// the first step (Jozefowicz et al. 2015; Keras' `unit_forget_bias`).
    #[config(default = 1.0)]
    pub forget_bias: f64,
}

/// One LSTM layer with its four gates in one weight matrix: `gates = x W_x + h W_h + b`, cut
/// into input, forget, candidate and output gates. Burn's `Lstm` runs eight matrix products per
/// step and copies its output into a growing tensor; this runs one product per step (the input
/// product of a whole sequence is done once, outside the loop, by the caller).
#[derive(Module, Debug)]
pub struct FusedLstmLayer {
    /// `[hidden, 4 hidden]`, no bias (the bias sits in the input product); the gates are laid
    /// out input, forget, candidate, output.
    pub recurrent: Linear,
    hidden: usize,
}

impl FusedLstmLayer {
    /// One step.
    ///
    /// # Shapes
    /// - input_gates: `[batch, 4 hidden]`, the input's share `x W_x + b`
    /// - state: `(h, c)`, each `[batch, hidden]`; output: the new `(h, c)`
    pub fn step(&self, input_gates: Tensor<2>, state: (Tensor<2>, Tensor<2>)) -> (Tensor<2>, Tensor<2>) {
        let (h, c) = state;
        let gates = input_gates + self.recurrent.forward(h);
        let mut parts = gates.chunk(4, 1).into_iter();
        let mut next = || parts.next().expect("four gates");
        let (i, f, g, o) = (next(), next(), next(), next());
        let c = burn::tensor::activation::sigmoid(f) * c + burn::tensor::activation::sigmoid(i) * g.tanh();
        let h = burn::tensor::activation::sigmoid(o) * c.clone().tanh();
        (h, c)
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }
}

/// A character language model: stacked LSTMs predict the next character of every position
/// (Karpathy's char-rnn, trained with truncated backpropagation through each window).
#[derive(Module, Debug)]
pub struct CharLstm {
    /// The first layer's input product for a one-hot character is a row of `W_x` plus the
    /// bias: a lookup, `[vocab, 4 hidden]`.
    pub input_gates: burn::nn::Embedding,
    /// `[hidden, 4 hidden]` with bias: the input product of layers 2.. (fed by the layer below).
    pub upper_inputs: Vec<Linear>,
    pub layers: Vec<FusedLstmLayer>,
    pub dropout: burn::nn::Dropout,
    /// `[hidden, vocab]`
    pub output: Linear,
}

impl CharLstmConfig {
    pub fn init(&self, device: &Device) -> CharLstm {
        let h = self.hidden;
        // PyTorch's LSTM initialisation: every weight and bias uniform in ±1/sqrt(hidden).
        let bound = 1.0 / (h as f64).sqrt();
        let uniform = burn::nn::Initializer::Uniform { min: -bound, max: bound };
        let layers = (0..self.layers)
            .map(|_| FusedLstmLayer {
                recurrent: LinearConfig::new(h, 4 * h).with_bias(false).with_initializer(uniform.clone()).init(device),
                hidden: h,
            })
            .collect();
        // The first layer's bias sits in every row of its lookup table, the others' in their
        // input products: both get `forget_bias` in the forget gate's columns `hidden..2 hidden`.
        let forget = |rows: usize| {
            let data: Vec<f32> = (0..rows * 4 * h).map(|i| if (h..2 * h).contains(&(i % (4 * h))) { self.forget_bias as f32 } else { 0.0 }).collect();
            Tensor::<2>::from_data(TensorData::new(data, [rows, 4 * h]), device)
        };
        let mut input_gates = burn::nn::EmbeddingConfig::new(self.vocab, 4 * h).with_initializer(uniform.clone()).init(device);
        input_gates.weight = burn::module::Param::from_tensor((input_gates.weight.val() + forget(self.vocab)).detach());
        let upper_inputs = (1..self.layers)
            .map(|_| {
                let mut linear = LinearConfig::new(h, 4 * h).with_initializer(uniform.clone()).init(device);
                linear.bias = linear.bias.map(|b| burn::module::Param::from_tensor((b.val() + forget(1).reshape([4 * h])).detach()));
                linear
            })
            .collect();
        CharLstm {
            input_gates,
            upper_inputs,
            layers,
            dropout: burn::nn::DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(h, self.vocab).init(device),
        }
    }
}

/// The recurrent state of every layer: `(h, c)`, each `[batch, hidden]`.
pub type LstmStates = Vec<(Tensor<2>, Tensor<2>)>;

impl CharLstm {
    /// Logits of the next character at every position, from zero states.
    ///
    /// # Shapes
    /// - ids: `[batch, len]` character ids
    /// - output: `[batch, len, vocab]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.forward_with_state(ids, None).0
    }

    /// As [`forward`](Self::forward), starting from `state` and returning the final one (for
    /// generating text one character at a time).
    pub fn forward_with_state(&self, ids: Tensor<2, Int>, state: Option<LstmStates>) -> (Tensor<3>, LstmStates) {
        let [batch, len] = ids.dims();
        let device = ids.device();
        let hidden = self.layers[0].hidden();
        let mut states = state.unwrap_or_else(|| {
            self.layers.iter().map(|_| (Tensor::zeros([batch, hidden], &device), Tensor::zeros([batch, hidden], &device))).collect()
        });
        // One lookup per step: slicing a `[batch, len, 4 hidden]` product per step would make
        // the backward pass write a full-size zero tensor for every step.
        let steps = ids.split(1, 1); // len x [batch, 1]
        let mut outputs = Vec::with_capacity(len);
        for step_ids in steps {
            let mut below = self.input_gates.forward(step_ids).reshape([batch, 4 * hidden]);
            for (l, layer) in self.layers.iter().enumerate() {
                let input_gates = if l == 0 { below } else { self.upper_inputs[l - 1].forward(below) };
                let (h, c) = layer.step(input_gates, states[l].clone());
                states[l] = (h.clone(), c);
                below = if l + 1 < self.layers.len() { self.dropout.forward(h) } else { h };
            }
            outputs.push(below);
        }
        let hidden_states = Tensor::stack::<3>(outputs, 1); // [batch, len, hidden]
        (self.output.forward(self.dropout.forward(hidden_states)), states)
    }
}
