//! `zoo explain TOPIC`: small worked examples with every number printed.
//!
//! The text is deterministic (fixed inputs, fixed seeds, fixed number formats), so tests compare
//! it byte for byte with golden files in `tests/golden/`.

use std::fmt::Write;

use crate::activation::{
    gelu, gelu_grad, leaky_relu, leaky_relu_grad, relu, relu_grad, sigmoid, sigmoid_grad, softmax, softmax_jacobian,
    softmax_jvp, tanh, tanh_grad,
};
use crate::article;
use crate::backprop::{LogisticRegression, Mlp};
use crate::conv::{ConvOptions, Padding, conv_output_shape, conv2d, convolve2d, output_size, same_padding};
use crate::init::{Init, RELU_GAIN, Rng, fan_in_fan_out, stats};
use crate::pool::{AvgPoolOptions, MaxPoolOptions, avg_pool2d, max_pool2d};
use crate::tensor::{Matrix, Tensor4};

/// The topics, in the order `zoo explain` lists them.
pub const TOPICS: [&str; 7] = ["conv", "stride", "padding", "pool", "activations", "init", "backprop"];

/// The worked example for `topic`, or an error naming the known topics.
pub fn explain(topic: &str) -> Result<String, String> {
    match topic {
        "conv" => Ok(conv()),
        "stride" => Ok(stride()),
        "padding" => Ok(padding()),
        "pool" => Ok(pool()),
        "activations" => Ok(activations()),
        "init" => Ok(init()),
        "backprop" => Ok(backprop()),
        other => Err(format!("unknown topic '{other}'; expected one of: {}", TOPICS.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

/// Appends one formatted line to a `String`.
macro_rules! line {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($arg:tt)*) => {{ let _ = writeln!($out, $($arg)*); }};
}

/// `v` with `decimals` digits; never prints "-0".
fn num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// A matrix, right-aligned, indented by two spaces, one line per row.
fn grid(rows: &[Vec<f64>], decimals: usize) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|&v| num(v, decimals)).collect()).collect();
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    let mut s = String::new();
    for row in &cells {
        let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
        line!(s, "  {}", line.join(" "));
    }
    s
}

/// One plane of a tensor as `f64` rows.
fn plane(t: &Tensor4) -> Vec<Vec<f64>> {
    t.plane(0, 0).into_iter().map(|r| r.into_iter().map(f64::from).collect()).collect()
}

fn matrix_rows(m: &Matrix) -> Vec<Vec<f64>> {
    (0..m.rows).map(|r| m.row(r).to_vec()).collect()
}

fn heading(out: &mut String, title: &str) {
    line!(out, "{title}");
    line!(out, "{}", "=".repeat(title.chars().count()));
    line!(out);
}

fn section(out: &mut String, title: &str) {
    line!(out);
    line!(out, "{title}");
    line!(out, "{}", "-".repeat(title.chars().count()));
}

fn image() -> Tensor4 {
    article::to_tensor(&article::image5())
}

fn sharpen() -> Tensor4 {
    article::to_tensor(&article::sharpen())
}

fn opts(stride: usize, padding: Padding) -> ConvOptions {
    ConvOptions::new([stride, stride], [1, 1], padding)
}

// ---------------------------------------------------------------------------------------------
// conv
// ---------------------------------------------------------------------------------------------

fn conv() -> String {
    let mut out = String::new();
    heading(&mut out, "conv: 2-D convolution by hand (article items 12, 17, 20)");
    line!(out, "The article's 5x5 image X (a hollow square) and its sharpen kernel K:");
    line!(out);
    line!(out, "X =");
    out += &grid(&article::image5(), 0);
    line!(out, "K =");
    out += &grid(&article::sharpen(), 0);
    line!(out);
    line!(out, "Slide K over X. At each position multiply the overlapping cells and add them up:");
    line!(out, "  Y[i][j] = sum over u, v of X[i+u][j+v] * K[u][v]");
    line!(out, "That is cross-correlation, which is what deep-learning libraries (Burn's conv2d");
    line!(out, "included) call convolution. True convolution first rotates K by 180 degrees");
    line!(out, "(np.flip in item 12). K is symmetric, so here both give the same numbers.");
    line!(out);
    line!(
        out,
        "Output size without padding, stride 1: (5 - 3) / 1 + 1 = {}, so Y is 3x3.",
        output_size(5, 3, 1, 1, 0, 0)
    );

    section(&mut out, "One output value, worked out: Y[1][1]");
    let x = article::image5();
    let k = article::sharpen();
    line!(out, "The window is rows 1..3, columns 1..3 of X:");
    let window: Vec<Vec<f64>> = (1..4).map(|r| x[r][1..4].to_vec()).collect();
    out += &grid(&window, 0);
    let terms: Vec<String> = (0..3)
        .flat_map(|u| (0..3).map(move |v| (u, v)))
        .map(|(u, v)| format!("{}*{}", num(window[u][v], 0), paren(k[u][v])))
        .collect();
    let y11: f64 = (0..3).flat_map(|u| (0..3).map(move |v| (u, v))).map(|(u, v)| window[u][v] * k[u][v]).sum();
    line!(out, "  {} = {}", terms.join(" + "), num(y11, 0));

    section(&mut out, "The whole output (valid, stride 1)");
    let y = conv2d(&image(), &sharpen(), None, ConvOptions::default());
    line!(out, "Y =");
    out += &grid(&plane(&y), 0);
    line!(out, "The hole in the middle becomes strongly negative and the ring stays positive:");
    line!(out, "the kernel exaggerates the difference between a pixel and its four neighbours.");
    line!(out);
    line!(out, "A convolutional layer then adds a bias and applies an activation;");
    line!(out, "with bias b = 1 and ReLU, relu(Y + 1) =");
    let act = conv2d(&image(), &sharpen(), Some(&[1.0]), ConvOptions::default());
    let act: Vec<Vec<f64>> = plane(&act).into_iter().map(|r| r.into_iter().map(relu).collect()).collect();
    out += &grid(&act, 0);

    section(&mut out, "Convolution versus cross-correlation");
    line!(out, "With an asymmetric kernel the flip matters. The Sobel kernel S and its flip:");
    let sobel = Tensor4::from_rows(&[&[1., 0., -1.], &[2., 0., -2.], &[1., 0., -1.]]);
    line!(out, "S =");
    out += &grid(&plane(&sobel), 0);
    line!(out, "flip(S) =");
    out += &grid(&plane(&crate::conv::flip_kernel(&sobel)), 0);
    line!(out, "cross-correlation X (x) S (Burn's conv2d):");
    out += &grid(&plane(&conv2d(&image(), &sobel, None, ConvOptions::default())), 0);
    line!(out, "true convolution X * S (the same sums with flip(S)):");
    out += &grid(&plane(&convolve2d(&image(), &sobel, None, ConvOptions::default())), 0);
    line!(out, "The signs swap. A network learns its kernels, so either convention works; it");
    line!(out, "simply learns the flipped kernel.");

    section(&mut out, "What the article's code prints (items 12 and 17)");
    line!(out, "    for i in range(image.shape[0] - kernel.shape[0]):   # range(5 - 3): i = 0, 1");
    line!(out, "        for j in range(image.shape[1] - kernel.shape[1]):");
    line!(out, "The loops stop one position early (the bound should be 5 - 3 + 1), and the output");
    line!(out, "is np.zeros_like(image), 5x5, so the cells never visited stay 0:");
    out += &grid(&article::item12_conv2d(&x, &k), 0);
    line!(out, "That is a 2x2 block of results inside a 5x5 array; the correct answer is the 3x3 Y");
    line!(out, "above. Its last row and column (five values, all 3) are missing.");
    line!(out);
    line!(out, "Item 20 applies that conv2d twice (its depth arguments are never used). The second");
    line!(out, "pass reads the fake zeros of the first:");
    out += &grid(&article::item20_cnn(&x, &k, 3, &k, 3), 0);
    let twice = convolve2d(&y, &sharpen(), None, ConvOptions::default());
    line!(out, "Correct: 5x5 -> 3x3 -> 1x1, and the single value is {}.", num(twice.data[0] as f64, 0));

    section(&mut out, "Channels and batches");
    line!(out, "Real layers have many channels. The weight has shape [out_ch, in_ch, kh, kw]: each of");
    line!(out, "the out_ch filters spans all in_ch input channels and sums over them as well, and");
    line!(out, "each filter makes one output channel. The article's CNN (items 3, 7) on MNIST:");
    let s1 = conv_output_shape([64, 1, 28, 28], [32, 1, 3, 3], ConvOptions::default());
    line!(out, "  input [64, 1, 28, 28] with weight [32, 1, 3, 3]   -> {s1:?}");
    let s2 = conv_output_shape([64, 32, 13, 13], [64, 32, 3, 3], ConvOptions::default());
    line!(out, "  input [64, 32, 13, 13] with weight [64, 32, 3, 3] -> {s2:?}");
    out
}

/// `-1` as `(-1)` so that products read unambiguously.
fn paren(v: f64) -> String {
    if v < 0.0 { format!("({})", num(v, 0)) } else { num(v, 0) }
}

// ---------------------------------------------------------------------------------------------
// stride
// ---------------------------------------------------------------------------------------------

fn stride() -> String {
    let mut out = String::new();
    heading(&mut out, "stride: how far the window moves (article items 22, 26)");
    line!(out, "Output size along one axis (floor division; a window that does not fit is dropped):");
    line!(out, "  out = (in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride + 1");
    line!(out);
    line!(out, "The article's 5x5 image X with the 3x3 sharpen kernel K:");
    out += &grid(&article::image5(), 0);

    for (s, pad, label) in [
        (1, Padding::Valid, "stride 1, valid (no padding)"),
        (2, Padding::Valid, "stride 2, valid (no padding)"),
        (3, Padding::Valid, "stride 3, valid (no padding)"),
        (1, Padding::Same, "stride 1, same padding"),
        (2, Padding::Same, "stride 2, same padding"),
    ] {
        section(&mut out, label);
        let y = conv2d(&image(), &sharpen(), None, opts(s, pad));
        match pad {
            Padding::Same => {
                let (b, e) = same_padding(5, 3, s, 1);
                line!(out, "  out = ceil(5 / {s}) = {}; padding {b} before and {e} after each axis", y.shape[2]);
            }
            _ => line!(out, "  out = (5 - 3) / {s} + 1 = {}", y.shape[2]),
        }
        let starts: Vec<String> = (0..y.shape[2]).map(|i| (i * s).to_string()).collect();
        line!(out, "  windows start at padded rows/columns {}", starts.join(", "));
        out += &grid(&plane(&y), 0);
    }
    line!(out, "A stride of 2 keeps every second window: it roughly halves each side, so the next");
    line!(out, "layer has four times fewer positions to compute. Stride 3 lets the window jump past");
    line!(out, "the last two columns: (5 - 3) / 3 rounds down, and those pixels are never read.");

    section(&mut out, "Dilation, for comparison");
    let d = conv2d(&image(), &sharpen(), None, ConvOptions::new([1, 1], [2, 2], Padding::Valid));
    line!(out, "Dilation 2 spreads the 3 taps over 5 pixels (dilation * (k - 1) + 1 = 5):");
    line!(
        out,
        "  out = (5 - 5) / 1 + 1 = {} ; Y = 5*X[2][2] - X[0][2] - X[4][2] - X[2][0] - X[2][4] = {}",
        d.shape[2],
        num(d.data[0] as f64, 0)
    );

    section(&mut out, "What the article's conv2dStride prints (items 22 and 26)");
    line!(out, "    for i in range(image.shape[0] - kernel.shape[0]):");
    line!(out, "        for j in range(image.shape[1] - kernel.shape[1]):");
    line!(out, "            patch = image[i:i+kernel.shape[0], j:j+kernel.shape[1]]");
    line!(out, "            output[i:i+stride[0], j:j+stride[1]] = np.sum(patch * kernel, axis=(1, 2))");
    line!(out, "On its own 3x3 plus-shaped image with the 3x3 kernel, range(3 - 3) is empty: nothing");
    line!(out, "runs and it prints np.zeros_like(image):");
    let plus = article::image3();
    match article::item22_conv2d_stride(&plus, &article::sharpen(), (2, 2)) {
        Ok(zeros) => out += &grid(&zeros, 0),
        Err(e) => line!(out, "  {e}"),
    }
    line!(out, "On the 5x5 image the loop body runs and NumPy stops at once:");
    match article::item22_conv2d_stride(&article::image5(), &article::sharpen(), (2, 2)) {
        Ok(m) => out += &grid(&m, 0),
        Err(e) => line!(out, "  {e}"),
    }
    line!(out, "(patch * kernel is 2-D, so there is no axis 2 to sum over). The stride is also never");
    line!(out, "used to move the window (the loops step by 1), and the output keeps the input's size.");
    line!(out);
    line!(out, "Correct, on the 3x3 plus with stride 2:");
    let plus_t = article::to_tensor(&plus);
    let v = convolve2d(&plus_t, &sharpen(), None, opts(2, Padding::Valid));
    line!(out, "  valid: out = (3 - 3) / 2 + 1 = {}; Y = 5*1 - 1 - 1 - 1 - 1 =", v.shape[2]);
    out += &grid(&plane(&v), 0);
    let same = convolve2d(&plus_t, &sharpen(), None, opts(2, Padding::Same));
    line!(out, "  same: out = ceil(3 / 2) = {}, one zero row/column on each side:", same.shape[2]);
    out += &grid(&plane(&same), 0);
    out
}

// ---------------------------------------------------------------------------------------------
// padding
// ---------------------------------------------------------------------------------------------

fn padded(x: &[Vec<f64>], top: usize, bottom: usize, left: usize, right: usize) -> Vec<Vec<f64>> {
    let w = x[0].len() + left + right;
    let mut rows = vec![vec![0.0; w]; top];
    for r in x {
        let mut row = vec![0.0; left];
        row.extend_from_slice(r);
        row.extend(std::iter::repeat_n(0.0, right));
        rows.push(row);
    }
    rows.extend(std::iter::repeat_n(vec![0.0; w], bottom));
    rows
}

fn padding() -> String {
    let mut out = String::new();
    heading(&mut out, "padding: zeros around the border (article item 17)");
    line!(out, "Without padding every 3x3 layer shrinks the image by 2 and border pixels are covered");
    line!(out, "by fewer windows than central ones. Padding adds zero rows and columns first.");
    line!(out);
    line!(out, "  valid          no padding: out = (in - k) / s + 1");
    line!(out, "  same           out = ceil(in / s); total = max((out - 1) * s + k - in, 0) zeros,");
    line!(out, "                 total / 2 before, the rest after (TensorFlow puts the odd one on the");
    line!(out, "                 bottom/right)");
    line!(out, "  explicit [p]   p zeros on both sides (Burn's and PyTorch's conv2d padding = [ph, pw])");

    section(&mut out, "Same padding for a few sizes");
    line!(out, "   in   k   s   out   total   before   after");
    for (input, k, s, note) in [
        (5, 3, 1, ""),
        (5, 3, 2, ""),
        (4, 3, 2, ""),
        (6, 3, 2, ""),
        (5, 4, 1, ""),
        (28, 5, 2, "  article's GAN discriminator, conv 1"),
        (14, 5, 2, "  article's GAN discriminator, conv 2"),
    ] {
        let (b, e) = same_padding(input, k, s, 1);
        let o = output_size(input, k, s, 1, b, e);
        line!(out, "  {input:>3} {k:>3} {s:>3} {o:>5} {:>7} {b:>8} {e:>7}{note}", b + e);
    }
    line!(out, "An odd total cannot be split evenly. Burn's conv2d(padding = [ph, pw]) is symmetric;");
    line!(out, "Burn 0.22 takes uneven (begin, end) pairs through ConvOptions::new_with_padding.");

    let x = article::image5();
    section(&mut out, "The 5x5 image, same padding, stride 1");
    line!(out, "Padded with one zero on every side (7x7):");
    out += &grid(&padded(&x, 1, 1, 1, 1), 0);
    let same = conv2d(&image(), &sharpen(), None, opts(1, Padding::Same));
    line!(out, "Sharpened, 5x5 like the input (border pixels now have outputs too):");
    out += &grid(&plane(&same), 0);
    let explicit = conv2d(&image(), &sharpen(), None, opts(1, Padding::Explicit([1, 1])));
    line!(out, "Explicit [1, 1] gives the same result: {}", if explicit == same { "yes" } else { "no" });

    section(&mut out, "Explicit padding [2, 2], stride 1");
    let p2 = conv2d(&image(), &sharpen(), None, opts(1, Padding::Explicit([2, 2])));
    line!(out, "out = (5 + 2 + 2 - 3) / 1 + 1 = {}: more padding than 'same' grows the output", p2.shape[2]);
    out += &grid(&plane(&p2), 0);

    section(&mut out, "Uneven same padding: the top-left 4x4 of the image, stride 2");
    let x4: Vec<Vec<f64>> = x[..4].iter().map(|r| r[..4].to_vec()).collect();
    let (b, e) = same_padding(4, 3, 2, 1);
    line!(out, "out = ceil(4 / 2) = 2, total = (2 - 1) * 2 + 3 - 4 = 1: {b} zero before, {e} after");
    out += &grid(&padded(&x4, b, e, b, e), 0);
    let y4 = conv2d(&article::to_tensor(&x4), &sharpen(), None, opts(2, Padding::Same));
    line!(out, "Output:");
    out += &grid(&plane(&y4), 0);
    out
}

// ---------------------------------------------------------------------------------------------
// pool
// ---------------------------------------------------------------------------------------------

fn pool() -> String {
    let mut out = String::new();
    heading(&mut out, "pool: max and average pooling (article item 19)");
    let m = Tensor4::from_rows(&[&[1., 3., 2., 4.], &[5., 6., 1., 2.], &[7., 2., 8., 1.], &[0., 3., 4., 9.]]);
    line!(out, "A 4x4 feature map M:");
    out += &grid(&plane(&m), 0);
    line!(out, "Pooling slides a window over each channel separately; it has no weights.");
    line!(out, "Output size: the same formula as convolution, (4 - 2) / 2 + 1 = 2.");

    section(&mut out, "2x2 windows, stride 2");
    let rows = plane(&m);
    line!(out, "  window   values        max    mean");
    for (i, j) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
        let vals = [rows[i][j], rows[i][j + 1], rows[i + 1][j], rows[i + 1][j + 1]];
        let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = vals.iter().sum::<f64>() / 4.0;
        let shown: Vec<String> = vals.iter().map(|&v| num(v, 0)).collect();
        line!(out, "  ({i}, {j})   {{{}}}   {:>5} {:>7}", shown.join(", "), num(max, 0), num(mean, 2));
    }
    line!(out, "max_pool2d:");
    out += &grid(&plane(&max_pool2d(&m, MaxPoolOptions::new([2, 2]))), 0);
    line!(out, "avg_pool2d:");
    out += &grid(&plane(&avg_pool2d(&m, AvgPoolOptions::new([2, 2]))), 2);
    line!(out, "Max pooling keeps the strongest response in each region (and forgets where in the");
    line!(out, "window it was); average pooling smooths.");

    section(&mut out, "2x2 windows, stride 1 (overlapping)");
    line!(out, "out = (4 - 2) / 1 + 1 = 3; max_pool2d:");
    out += &grid(&plane(&max_pool2d(&m, MaxPoolOptions::new([2, 2]).with_stride([1, 1]))), 0);

    section(&mut out, "3x3 windows, stride 1, padding 1");
    line!(out, "out = (4 + 1 + 1 - 3) / 1 + 1 = 4. Max pooling ignores the padding (it never wins):");
    let o = MaxPoolOptions::new([3, 3]).with_stride([1, 1]).with_padding([1, 1]);
    out += &grid(&plane(&max_pool2d(&m, o)), 0);
    let a = AvgPoolOptions::new([3, 3]).with_stride([1, 1]).with_padding([1, 1]);
    line!(out, "Average pooling with count_include_pad = true (Burn's and PyTorch's default): the");
    line!(out, "padded zeros count, every window divides by 9, so the border is pulled towards 0:");
    out += &grid(&plane(&avg_pool2d(&m, a)), 4);
    line!(out, "count_include_pad = false: divide by the real cells only (4 in a corner, 6 on an");
    line!(out, "edge, 9 inside):");
    out += &grid(&plane(&avg_pool2d(&m, a.with_count_include_pad(false))), 4);
    line!(out, "Top-left corner: (1 + 3 + 5 + 6) / 9 = 1.6667 versus (1 + 3 + 5 + 6) / 4 = 3.7500.");

    section(&mut out, "The article's max_pooling (item 19)");
    line!(out, "On its 3x3 plus image with a 2x2 window and stride 2: (3 - 2) / 2 + 1 = 1, so one");
    line!(out, "window covers rows and columns 0..1 and the last row and column are dropped:");
    out += &grid(&article::item19_max_pooling(&article::image3(), (2, 2), (2, 2)), 0);
    line!(out, "That is correct (floor mode, as in every framework); max_pool2d gives the same.");
    out
}

// ---------------------------------------------------------------------------------------------
// activations
// ---------------------------------------------------------------------------------------------

fn activations() -> String {
    let mut out = String::new();
    heading(&mut out, "activations: values and derivatives (article item 13)");
    line!(out, "  relu(x)       = max(0, x)                    relu'(x) = 1 if x > 0 else 0");
    line!(out, "  leaky(x)      = x if x > 0 else 0.1 x        leaky'(x) = 1 if x > 0 else 0.1");
    line!(out, "  sigmoid(x)    = 1 / (1 + e^-x)               sigmoid' = sigmoid (1 - sigmoid)");
    line!(out, "  tanh(x)                                      tanh' = 1 - tanh^2");
    line!(out, "  gelu(x)       = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2");
    line!(out, "                                               gelu' = Phi(x) + x phi(x)");
    line!(out, "(Phi, phi: the standard normal CDF and density.) At x = 0, where ReLU has a corner,");
    line!(out, "the derivative is taken as 0, like Burn and PyTorch. The leaky slope is 0.1 here to");
    line!(out, "be visible (Burn and PyTorch default to 0.01, Keras to 0.3).");
    let xs = [-2.0, -1.0, 0.0, 1.0, 2.0];

    section(&mut out, "Values");
    line!(out, "       x      relu     leaky   sigmoid      tanh      gelu");
    for &x in &xs {
        line!(
            out,
            "  {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            num(x, 1),
            num(relu(x), 4),
            num(leaky_relu(x, 0.1), 4),
            num(sigmoid(x), 4),
            num(tanh(x), 4),
            num(gelu(x), 4)
        );
    }

    section(&mut out, "Derivatives");
    line!(out, "       x     relu'    leaky'  sigmoid'     tanh'     gelu'");
    for &x in &xs {
        line!(
            out,
            "  {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            num(x, 1),
            num(relu_grad(x), 4),
            num(leaky_relu_grad(x, 0.1), 4),
            num(sigmoid_grad(x), 4),
            num(tanh_grad(x), 4),
            num(gelu_grad(x), 4)
        );
    }
    line!(out, "Sigmoid's slope is at most 0.25: ten sigmoid layers multiply the gradient by at most");
    line!(out, "0.25^10 (about 1e-6). ReLU passes it unchanged where x > 0, one reason it trains deep");
    line!(out, "networks better. GELU is a smooth ReLU: slightly negative for x < 0.");
    line!(out);
    let relu_out: Vec<String> = xs.iter().map(|&x| num(relu(x), 0)).collect();
    line!(out, "The article's example, ReLU(np.array([-2, -1, 0, 1, 2])), prints [{}].", relu_out.join(" "));

    section(&mut out, "Softmax and its Jacobian");
    let z = [1.0, 2.0, 3.0];
    let p = softmax(&z);
    line!(out, "softmax(z)_i = e^(z_i) / sum_j e^(z_j); computed as softmax(z - max z), which is the");
    line!(out, "same value and cannot overflow.");
    line!(out, "  z          = [1, 2, 3]");
    line!(out, "  e^(z - 3)  = [{}]", z.iter().map(|v| num((v - 3.0f64).exp(), 4)).collect::<Vec<_>>().join(", "));
    line!(out, "  softmax(z) = [{}]", p.iter().map(|&v| num(v, 4)).collect::<Vec<_>>().join(", "));
    line!(out, "Jacobian J[i][j] = p_i (delta_ij - p_j):");
    out += &grid(&softmax_jacobian(&p), 4);
    let v = [1.0, 0.0, 0.0];
    let jvp = softmax_jvp(&p, &v);
    line!(out, "Backpropagation needs only J v = p * (v - p.v); for v = [1, 0, 0]:");
    line!(out, "  p.v = {}, J v = [{}]", num(p[0], 4), jvp.iter().map(|&v| num(v, 4)).collect::<Vec<_>>().join(", "));
    line!(out, "(each row of J sums to 0: adding a constant to every z changes nothing).");
    out
}

// ---------------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------------

fn init() -> String {
    let mut out = String::new();
    heading(&mut out, "init: weight initialisers (article item 16)");
    line!(out, "A unit sums fan_in inputs: with weights of variance s^2 the output variance is about");
    line!(out, "fan_in * s^2 times the input's. Too large and activations explode layer after layer,");
    line!(out, "too small and they vanish. Xavier/Glorot and He/Kaiming choose s from the fans:");
    line!(out, "  xavier_uniform  U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))");
    line!(out, "  xavier_normal   N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))");
    line!(out, "  kaiming_uniform U(-a, a), a = gain * sqrt(3 / fan_in)   (He, ReLU: gain = sqrt 2)");
    line!(out, "  kaiming_normal  N(0, s^2), s = gain / sqrt(fan_in)      (the article's He code)");
    line!(out, "(U(-a, a) has standard deviation a / sqrt 3.)");

    section(&mut out, "Fans");
    line!(out, "  dense weight [in, out] (Burn's Linear layout): fan_in = in, fan_out = out");
    line!(out, "  conv weight [out_ch, in_ch, kh, kw]: fan_in = in_ch*kh*kw, fan_out = out_ch*kh*kw");
    line!(out);
    line!(out, "  the article's CNN      shape              fan_in  fan_out  xavier a  he std");
    for (name, shape) in [
        ("conv 1", &[32usize, 1, 3, 3][..]),
        ("conv 2", &[64, 32, 3, 3][..]),
        ("dense 1", &[1600, 128][..]),
        ("dense 2", &[128, 10][..]),
    ] {
        let (fi, fo) = fan_in_fan_out(shape);
        let xa = Init::XavierUniform { gain: 1.0 }.theory(shape).bounds.map_or(0.0, |b| b.1);
        let he = Init::KaimingNormal { gain: RELU_GAIN, fan_out_only: false }.theory(shape).std;
        line!(out, "  {name:<20} {:<18} {fi:>6} {fo:>8} {:>9} {:>7}", format!("{shape:?}"), num(xa, 4), num(he, 4));
    }

    section(&mut out, "Spread over a 256x256 dense weight (65536 values, seed 42)");
    let shape = [256, 256];
    line!(out, "fan_in = fan_out = 256. Measured, then what theory says:");
    line!(out, "  scheme            mean      std      min      max  |  std   bounds");
    let schemes = [
        (Init::Uniform { low: -1.0, high: 1.0 }, "uniform(-1, 1)"),
        (Init::Normal { mean: 0.0, std: 1.0 }, "normal(0, 1)"),
        (Init::XavierUniform { gain: 1.0 }, "xavier_uniform"),
        (Init::XavierNormal { gain: 1.0 }, "xavier_normal"),
        (Init::KaimingUniform { gain: RELU_GAIN, fan_out_only: false }, "he_uniform"),
        (Init::KaimingNormal { gain: RELU_GAIN, fan_out_only: false }, "he_normal"),
    ];
    for (init, label) in schemes {
        let values = init.sample(&shape, &mut Rng::new(42));
        let s = stats(&values);
        let t = init.theory(&shape);
        let bounds = t.bounds.map_or("none".to_string(), |(lo, hi)| format!("[{}, {}]", num(lo, 4), num(hi, 4)));
        line!(
            out,
            "  {label:<15} {:>7} {:>8} {:>8} {:>8}  | {:>6}  {bounds}",
            num(s.mean, 4),
            num(s.std, 4),
            num(s.min, 4),
            num(s.max, 4),
            num(t.std, 4)
        );
    }
    line!(out, "Gaussian N(0, 1) is far too wide for 256 inputs: each unit's output would have a");
    line!(out, "standard deviation of about 16 times its input's. Xavier and He bring it to about 1");
    line!(out, "(He doubles the variance because ReLU zeroes half the units).");

    section(&mut out, "Notes on the article");
    line!(out, "Its Xavier formula 'w = gamma / sqrt(n)' is garbled; the table above is the standard");
    line!(out, "form. Its he_initializer(layer) is He-normal, but Keras calls an initializer with a");
    line!(out, "shape, not a layer, and assigning kernel_initializer after the layer is built has no");
    line!(out, "effect, so the model keeps Keras' default Glorot-uniform weights.");
    out
}

// ---------------------------------------------------------------------------------------------
// backprop
// ---------------------------------------------------------------------------------------------

fn vector(v: &[f64], decimals: usize) -> String {
    format!("[{}]", v.iter().map(|&x| num(x, decimals)).collect::<Vec<_>>().join(", "))
}

fn show(out: &mut String, name: &str, shape: &str, m: &Matrix) {
    line!(out, "{name} {shape} =");
    *out += &grid(&matrix_rows(m), 4);
}

/// A small random matrix with values rounded to two decimals, so that a student can redo the
/// arithmetic.
fn readable_matrix(rows: usize, cols: usize, rng: &mut Rng) -> Matrix {
    Matrix::new(rows, cols, (0..rows * cols).map(|_| (rng.uniform(-1.0, 1.0) * 100.0).round() / 100.0).collect())
}

fn backprop() -> String {
    let mut out = String::new();
    heading(&mut out, "backprop: gradients by hand (article item 14)");
    line!(out, "Training moves every parameter a small step against the gradient of the loss.");
    line!(out, "Backpropagation computes those gradients with the chain rule, from the loss back");
    line!(out, "to the first layer, reusing the values the forward pass computed.");

    section(&mut out, "1. Logistic regression, the article's data with the shapes fixed");
    line!(out, "The article's x = [[0], [1]] has shape (2, 1), one feature, but its weights are");
    line!(out, "np.random.rand(2, 1), so np.dot(x, weights) fails before anything is learnt:");
    let xa = vec![vec![0.0], vec![1.0]];
    if let Err(e) = article::item14_forward(&xa, &[vec![0.5], vec![0.5]]) {
        line!(out, "  {e}");
    }
    line!(out, "Fixed: X [n, d] = [2, 1], w [d] = [1], and a bias b (without one, x = 0 is stuck at");
    line!(out, "sigmoid(0) = 0.5). Start from w = [0.5], b = 0, learning rate 0.1.");
    let x = Matrix::from_rows(&[&[0.0], &[1.0]]);
    let y = [0.0, 1.0];
    let mut model = LogisticRegression::new(vec![0.5], 0.0);
    let step = model.gradients(&x, &y);
    line!(out, "  z = X w + b               = {}", vector(&step.z, 4));
    line!(out, "  y_hat = sigmoid(z)        = {}", vector(&step.y_hat, 4));
    line!(out, "  y                         = {}", vector(&y, 4));
    line!(out, "  L = mean BCE              = {}", num(step.loss, 4));
    line!(out, "  dL/dz = (y_hat - y) / n   = {}", vector(&step.dz, 4));
    line!(out, "  dL/dw = X^T dL/dz         = {}", vector(&step.dw, 4));
    line!(out, "  dL/db = sum dL/dz         = {}", num(step.db, 4));
    model.sgd_update(&step, 0.1);
    line!(out, "  w <- w - 0.1 dL/dw        = {}", vector(&model.w, 4));
    line!(out, "  b <- b - 0.1 dL/db        = {}", num(model.b, 4));
    line!(out, "  L after the step          = {}", num(model.loss(&x, &y), 4));
    model.train(&x, &y, 0.1, 999);
    line!(
        out,
        "After 1000 steps (the article's epochs): L = {}, w = {}, b = {}",
        num(model.loss(&x, &y), 4),
        vector(&model.w, 4),
        num(model.b, 4)
    );
    line!(out, "The article's dW = x^T (y_pred - y) has no 1 / n: it is the gradient of the summed");
    line!(out, "loss, n times that of the mean loss it prints.");

    section(&mut out, "2. A 2-layer MLP with softmax cross-entropy");
    line!(out, "  z1 = X W1 + b1,  a1 = relu(z1),  z2 = a1 W2 + b2,  p = softmax(z2),");
    line!(out, "  L = -mean_i ln p[i, label_i]");
    line!(out, "2 samples, 3 features, 4 hidden units, 3 classes; weights drawn with seed 7 and");
    line!(out, "rounded to two decimals; learning rate 0.5.");
    line!(out);
    let mut rng = Rng::new(7);
    let w1 = readable_matrix(3, 4, &mut rng);
    let b1 = readable_matrix(1, 4, &mut rng).data;
    let w2 = readable_matrix(4, 3, &mut rng);
    let b2 = readable_matrix(1, 3, &mut rng).data;
    let mut mlp = Mlp::new(w1, b1, w2, b2);
    let x = Matrix::from_rows(&[&[0.5, -1.0, 2.0], &[1.5, 0.0, -0.5]]);
    let labels = [2usize, 0];
    show(&mut out, "X", "[2, 3]", &x);
    line!(out, "labels = [2, 0]");
    show(&mut out, "W1", "[3, 4]", &mlp.w1);
    line!(out, "b1 [4] = {}", vector(&mlp.b1, 4));
    show(&mut out, "W2", "[4, 3]", &mlp.w2);
    line!(out, "b2 [3] = {}", vector(&mlp.b2, 4));

    let t = mlp.trace(&x, &labels);
    line!(out);
    line!(out, "Forward:");
    show(&mut out, "z1 = X W1 + b1", "[2, 4]", &t.z1);
    show(&mut out, "a1 = relu(z1)", "[2, 4]", &t.a1);
    show(&mut out, "z2 = a1 W2 + b2", "[2, 3]", &t.z2);
    show(&mut out, "p = softmax(z2)", "[2, 3]", &t.probs);
    let picked: Vec<String> = labels.iter().enumerate().map(|(i, &l)| num(t.probs.get(i, l), 4)).collect();
    line!(out, "L = -(ln {} + ln {}) / 2 = {}", picked[0], picked[1], num(t.loss, 4));
    line!(out);
    line!(out, "Backward (chain rule, from the loss back to the input layer):");
    show(&mut out, "dz2 = (p - onehot(labels)) / n", "[2, 3]", &t.dz2);
    show(&mut out, "dW2 = a1^T dz2", "[4, 3]", &t.dw2);
    line!(out, "db2 = column sums of dz2 [3] = {}", vector(&t.db2, 4));
    show(&mut out, "da1 = dz2 W2^T", "[2, 4]", &t.da1);
    show(&mut out, "dz1 = da1 * relu'(z1)", "[2, 4]", &t.dz1);
    show(&mut out, "dW1 = X^T dz1", "[3, 4]", &t.dw1);
    line!(out, "db1 = column sums of dz1 [4] = {}", vector(&t.db1, 4));
    line!(out, "Where z1 <= 0 the ReLU passes no gradient: those entries of dz1 are 0.");

    line!(out);
    line!(out, "Check against finite differences, (L(w + h) - L(w - h)) / 2h with h = 1e-6:");
    let h = 1e-6;
    for (name, which, r, c) in [("W1", 1, 0, 0), ("W1", 1, 2, 3), ("W2", 2, 1, 2)] {
        let perturbed = |delta: f64| {
            let mut m = mlp.clone();
            let target = if which == 1 { &mut m.w1 } else { &mut m.w2 };
            target.set(r, c, target.get(r, c) + delta);
            m.loss(&x, &labels)
        };
        let numeric = (perturbed(h) - perturbed(-h)) / (2.0 * h);
        let analytic = if which == 1 { t.dw1.get(r, c) } else { t.dw2.get(r, c) };
        line!(out, "  d{name}[{r}][{c}]: by hand {}, numerically {}", num(analytic, 6), num(numeric, 6));
    }

    line!(out);
    line!(out, "SGD update, every parameter minus 0.5 times its gradient:");
    mlp.sgd_update(&t, 0.5);
    show(&mut out, "W1", "[3, 4]", &mlp.w1);
    line!(out, "b1 = {}", vector(&mlp.b1, 4));
    show(&mut out, "W2", "[4, 3]", &mlp.w2);
    line!(out, "b2 = {}", vector(&mlp.b2, 4));
    line!(out, "Loss before the step {}, after {}.", num(t.loss, 4), num(mlp.loss(&x, &labels), 4));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_renders_and_is_stable() {
        for topic in TOPICS {
            let a = explain(topic).unwrap();
            assert!(a.lines().count() > 10, "{topic} is too short");
            assert_eq!(a, explain(topic).unwrap(), "{topic} is not deterministic");
            assert!(!a.contains("NaN") && !a.contains("inf"), "{topic} prints a non-finite number");
        }
    }

    #[test]
    fn unknown_topic_lists_the_topics() {
        let err = explain("lstm").unwrap_err();
        assert_eq!(
            err,
            "unknown topic 'lstm'; expected one of: conv, stride, padding, pool, activations, init, backprop"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn num_never_prints_negative_zero() {
        assert_eq!(num(-0.00001, 4), "0.0000");
        assert_eq!(num(-0.0, 0), "0");
        assert_eq!(num(-1.5, 1), "-1.5");
    }
}
