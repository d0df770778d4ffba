//! Item 9 of the source document: an LSTM of 50 units reads a window of past values and a
//! dense layer predicts the next one; and a character language model of stacked LSTMs. Both
//! run [`FusedLstmLayer`]: one matrix product per step for all four gates.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;

use crate::nn::Dropout;

use crate::kernels;

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
    /// `[1, 4 hidden]` with bias: a value's share of the gates.
    input: Linear,
    lstm: FusedLstmLayer,
    /// `[hidden, 1]`
    output: Linear,
}

impl LstmForecasterConfig {
    /// Initialised as Burn's `Lstm` (what this forecaster ran on before it had its own layer,
    /// and what its measured figures need): every gate's input and hidden products Xavier-normal
    /// for their own `[inputs, hidden]` and `[hidden, hidden]` shapes, each with a bias drawn
    /// the same way (here summed into one), no forget-gate offset. PyTorch's uniform
    /// initialisation with a forget bias of 1 (the character model's) forecasts CO2 far worse
    /// on its test years (one-step RMSE 2.48 against 0.69, measured).
    pub fn init(&self, device: &Device) -> LstmForecaster {
        let h = self.hidden;
        let xavier = |fan_in: usize, fan_out: usize| (2.0 / (fan_in + fan_out) as f64).sqrt();
        let (input_std, hidden_std) = (xavier(1, h), xavier(h, h));
        let mut input = LinearConfig::new(1, 4 * h)
            .with_initializer(Initializer::Normal { mean: 0.0, std: input_std })
            .init(device);
        let bias_std = (input_std * input_std + hidden_std * hidden_std).sqrt();
        input.bias = Some(Initializer::Normal { mean: 0.0, std: bias_std }.init([4 * h], device));
        let mut lstm = FusedLstmLayer::new(h, device);
        lstm.recurrent = LinearConfig::new(h, 4 * h)
            .with_bias(false)
            .with_initializer(Initializer::Normal { mean: 0.0, std: hidden_std })
            .init(device);
        LstmForecaster { input, lstm, output: LinearConfig::new(h, 1).init(device) }
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
        let device = windows.device();
        let hidden = self.lstm.hidden();
        let zeros = || Tensor::<2>::zeros([batch, hidden], &device);
        let last = if kernels::applies(&windows) {
            // Every step's input product at once, then the whole recurrence as one operation.
            let x_gates = self.input.forward(windows.reshape([batch, steps, 1])); // [batch, steps, 4 hidden]
            let out = self.lstm.sequence(x_gates, zeros(), zeros()).expect("the kernel applies"); // [batch, steps, 2 hidden]
            out.slice([0..batch, steps - 1..steps, 0..hidden]).reshape([batch, hidden])
        } else {
            let mut state = (zeros(), zeros());
            // The windows are data, not parameters: cutting them per step costs the backward
            // pass nothing.
            for values in windows.split(1, 1) {
                state = self.lstm.step(self.input.forward(values), state); // values: [batch, 1]
            }
            state.0
        };
        self.output.forward(last).reshape([batch]) // [batch, hidden] -> [batch]
    }
}

/// PyTorch's LSTM initialisation: every weight and bias uniform in `±1/sqrt(hidden)`.
fn lstm_uniform(hidden: usize) -> Initializer {
    let bound = 1.0 / (hidden as f64).sqrt();
    Initializer::Uniform { min: -bound, max: bound }
}

/// `rows x [4 hidden]` zeros with `forget_bias` in the forget gate's columns `hidden..2 hidden`.
fn forget_bias_rows(rows: usize, hidden: usize, forget_bias: f64, device: &Device) -> Tensor<2> {
    let h = hidden;
    let data: Vec<f32> =
        (0..rows * 4 * h).map(|i| if (h..2 * h).contains(&(i % (4 * h))) { forget_bias as f32 } else { 0.0 }).collect();
    Tensor::<2>::from_data(TensorData::new(data, [rows, 4 * h]), device)
}

/// The input product `x W_x + b` of an LSTM layer reading `inputs` features: `[inputs, 4
/// hidden]` with a bias that carries `forget_bias` in the forget gate.
pub(crate) fn lstm_input_product(inputs: usize, hidden: usize, forget_bias: f64, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(inputs, 4 * hidden).with_initializer(lstm_uniform(hidden)).init(device);
    let forget = forget_bias_rows(1, hidden, forget_bias, device).reshape([4 * hidden]);
    linear.bias = linear.bias.map(|b| burn::module::Param::from_tensor((b.val() + forget).detach()));
    linear
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
    /// Width of the character embedding the first layer reads (0: `hidden`). The first layer's
    /// input product could be a lookup of `[vocab, 4 hidden]` rows (a one-hot input), but an
    /// embedding followed by that product learns far faster: on Moby Dick's first 140 steps
    /// PyTorch's `Embedding` + `LSTM` averaged 2.18 nats, the same LSTM on one-hot inputs 3.05.
    #[config(default = 0)]
    pub embedding: usize,
    /// Added to the forget gate's bias at initialisation (Jozefowicz et al. 2015; Keras'
    /// `unit_forget_bias` sets 1). 0 as in PyTorch: on Moby Dick the first epoch of
    /// the `char-lstm` recipe averaged 2.37 nats with 1 and 2.22 with 0 (PyTorch 2.18).
    #[config(default = 0.0)]
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
    /// A layer of `hidden` units with PyTorch's initialisation.
    pub fn new(hidden: usize, device: &Device) -> Self {
        let recurrent =
            LinearConfig::new(hidden, 4 * hidden).with_bias(false).with_initializer(lstm_uniform(hidden)).init(device);
        FusedLstmLayer { recurrent, hidden }
    }

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

    /// The layer over a whole sequence by zoo's kernel (one operation, its own backward
    /// pass); `None` where the kernel does not apply (see [`kernels`]).
    ///
    /// # Shapes
    /// - x_gates: `[batch, steps, 4 hidden]`; h0, c0: `[batch, hidden]`
    /// - output: `[batch, steps, 2 hidden]`: `h_t` in `..hidden`, `c_t` in `hidden..`
    pub fn sequence(&self, x_gates: Tensor<3>, h0: Tensor<2>, c0: Tensor<2>) -> Option<Tensor<3>> {
        kernels::lstm::lstm_sequence(&x_gates, &self.recurrent.weight.val(), &h0, &c0)
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }
}

/// A character language model: stacked LSTMs predict the next character of every position
/// (Karpathy's char-rnn, trained with truncated backpropagation through each window).
#[derive(Module, Debug)]
pub struct CharLstm {
    /// `[vocab, embedding]`, unit normal (Burn's and PyTorch's default).
    pub embedding: burn::nn::Embedding,
    /// Each layer's input product `x W_x + b`: `[embedding, 4 hidden]` for the first layer,
    /// `[hidden, 4 hidden]` for the others (fed by the layer below).
    pub inputs: Vec<Linear>,
    pub layers: Vec<FusedLstmLayer>,
    pub dropout: Dropout,
    /// `[hidden, vocab]`
    pub output: Linear,
}

impl CharLstmConfig {
    pub fn init(&self, device: &Device) -> CharLstm {
        let h = self.hidden;
        let width = if self.embedding == 0 { h } else { self.embedding };
        let layers = (0..self.layers).map(|_| FusedLstmLayer::new(h, device)).collect();
        let inputs = (0..self.layers)
            .map(|l| lstm_input_product(if l == 0 { width } else { h }, h, self.forget_bias, device))
            .collect();
        CharLstm {
            embedding: burn::nn::EmbeddingConfig::new(self.vocab, width).init(device),
            inputs,
            layers,
            dropout: burn::nn::DropoutConfig::new(self.dropout).init().into(),
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
            self.layers
                .iter()
                .map(|_| (Tensor::zeros([batch, hidden], &device), Tensor::zeros([batch, hidden], &device)))
                .collect()
        });
        if kernels::applies(&self.output.weight.val()) {
            // Each layer over the whole window as one operation: its input product for all
            // steps at once, then the recurrence.
            let mut below = self.embedding.forward(ids); // [batch, len, embedding]
            for (l, layer) in self.layers.iter().enumerate() {
                let x_gates = self.inputs[l].forward(below); // [batch, len, 4 hidden]
                let (h0, c0) = states[l].clone();
                let out = layer.sequence(x_gates, h0, c0).expect("the kernel applies"); // [batch, len, 2 hidden]
                let last = |from: usize| {
                    out.clone().slice([0..batch, len - 1..len, from..from + hidden]).reshape([batch, hidden])
                };
                states[l] = (last(0), last(hidden));
                let h = out.slice([0..batch, 0..len, 0..hidden]); // [batch, len, hidden]
                below = if l + 1 < self.layers.len() { self.dropout.forward(h) } else { h };
            }
            return (self.output.forward(self.dropout.forward(below)), states);
        }
        // One lookup per step: slicing a `[batch, len, embedding]` lookup per step would make
        // the backward pass write a full-size zero tensor for every step.
        let steps = ids.split(1, 1); // len x [batch, 1]
        let mut outputs = Vec::with_capacity(len);
        for step_ids in steps {
            let mut below = self.embedding.forward(step_ids).squeeze_dim::<2>(1); // [batch, embedding]
            for (l, layer) in self.layers.iter().enumerate() {
                let input_gates = self.inputs[l].forward(below);
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
