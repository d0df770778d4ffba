//! The captions of `crossmodal` (item 29): sentences about a digit in English and in Chinese,
//! from templates of which some are held out of training, the (picture, caption) pairs made of
//! them, and a tokeniser for both scripts.

use std::collections::HashMap;
use std::fmt;

use crate::rng::{SplitMix64, splitmix_step};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    English,
    Chinese,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::English, Language::Chinese];
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::English => "English",
            Language::Chinese => "Chinese",
        })
    }
}

/// A way of saying "this is digit d". In the text, `{word}` is the digit's name (`seven`,
/// `七`), `{numeral}` its figure (`7`), and `{a_word}` / `{a_numeral}` the same with the
/// English article (`an eight`, `an 8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    pub language: Language,
    pub text: &'static str,
    /// Only in test pairs: the model never trains on this phrasing.
    pub held_out: bool,
}

const fn t(language: Language, text: &'static str, held_out: bool) -> Template {
    Template { language, text, held_out }
}

use Language::{Chinese, English};

/// Every template, seen ones first within each language. The digit sits at the start, the
/// middle or the end in both kinds, so a model cannot learn to read the last token only; each
/// language has a held-out phrasing with words it never trained on.
pub const TEMPLATES: &[Template] = &[
    t(English, "a handwritten {word}", false),
    t(English, "the digit {numeral}", false),
    t(English, "this is {a_numeral}", false),
    t(English, "the number {word}", false),
    t(English, "{a_word}", false),
    t(English, "an image of the digit {word}", false),
    t(English, "handwritten number {numeral}", false),
    t(English, "{numeral} written by hand", false),
    t(English, "{word} drawn in ink", false),
    t(English, "a picture of {a_word}", true),
    t(English, "this digit is {numeral}", true),
    t(English, "someone wrote the number {word}", true),
    t(English, "{word} is the digit shown", true),
    t(Chinese, "数字{word}", false),
    t(Chinese, "手写的{numeral}", false),
    t(Chinese, "这是{word}", false),
    t(Chinese, "图中是数字{numeral}", false),
    t(Chinese, "手写数字{word}", false),
    t(Chinese, "{word}这个数字", false),
    t(Chinese, "{numeral}，手写的", false),
    t(Chinese, "这个数字是{word}", true),
    t(Chinese, "写的是{numeral}", true),
    t(Chinese, "图片里的数字{word}", true),
    t(Chinese, "{word}是图中的数字", true),
];

const ENGLISH_WORDS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const CHINESE_WORDS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// `a seven`, `an eight`, `an 8`, `an 11`.
fn with_article(word: &str) -> String {
    let vowel_sound = word.starts_with(['a', 'e', 'i', 'o', 'u', '8']) || word == "11" || word == "18";
    format!("{} {word}", if vowel_sound { "an" } else { "a" })
}

impl Template {
    /// The caption of `digit` (0-9).
    pub fn caption(&self, digit: u8) -> String {
        let d = usize::from(digit % 10);
        let numeral = d.to_string();
        let word = match self.language {
            English => ENGLISH_WORDS[d],
            Chinese => CHINESE_WORDS[d],
        };
        self.text
            .replace("{a_word}", &with_article(word))
            .replace("{a_numeral}", &with_article(&numeral))
            .replace("{word}", word)
            .replace("{numeral}", &numeral)
    }
}

/// The templates of `language`, seen or held out.
pub fn templates(language: Language, held_out: bool) -> Vec<&'static Template> {
    TEMPLATES.iter().filter(|t| t.language == language && t.held_out == held_out).collect()
}

/// A (picture, caption) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// Index of the picture in its set.
    pub image: usize,
    pub caption: String,
    /// The digit the caption names.
    pub named: u8,
    /// Whether the caption names the picture's digit.
    pub matches: bool,
    pub language: Language,
    pub held_out: bool,
}

/// A digit other than `digit`, uniform over the nine others.
fn other_digit(digit: u8, rng: &mut SplitMix64) -> u8 {
    let offset = 1 + rng.below(9) as u8;
    (digit % 10 + offset) % 10
}

/// A pair for picture `image` of digit `digit`: matching with probability one half, the caption
/// from `templates` (one chosen uniformly).
fn pair(image: usize, digit: u8, templates: &[&Template], rng: &mut SplitMix64) -> Pair {
    let template = templates[rng.below(templates.len())];
    let matches = rng.below(2) == 0;
    let named = if matches { digit } else { other_digit(digit, rng) };
    Pair {
        image,
        caption: template.caption(named),
        named,
        matches,
        language: template.language,
        held_out: template.held_out,
    }
}

/// One training pair for picture `image` of digit `digit`: a language at random, a seen
/// template of it at random, half of them matching.
pub fn training_pair(image: usize, digit: u8, rng: &mut SplitMix64) -> Pair {
    let language = Language::ALL[rng.below(2)];
    pair(image, digit, &templates(language, false), rng)
}

/// The test pairs of a set whose pictures have `labels`: for each picture, one pair per
/// language and per kind of phrasing (seen, held out), each matching with probability one half;
/// fixed by `seed`.
pub fn test_pairs(labels: &[u8], seed: u64) -> Vec<Pair> {
    let mut pairs = Vec::with_capacity(labels.len() * 4);
    for (image, &digit) in labels.iter().enumerate() {
        let mut rng = SplitMix64::new(splitmix_step(seed ^ splitmix_step(image as u64 ^ 0x7E57)));
        for language in Language::ALL {
            for held_out in [false, true] {
                pairs.push(pair(image, digit, &templates(language, held_out), &mut rng));
            }
        }
    }
    pairs
}

/// Word noise for training (word dropout, Iyyer et al. 2015): each token but a digit's name
/// (`keep`) becomes unknown with probability `rate`, and an unknown token is inserted before
/// each position and at the end with probability `rate / 2`. A caption then teaches that words
/// the model never saw say nothing of the digit, which phrasings it never trained on are made
/// of.
pub fn add_word_noise(ids: &[u32], keep: &[u32], rate: f64, rng: &mut SplitMix64) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len() + 2);
    for &id in ids {
        if rng.next_f64() < rate / 2.0 {
            out.push(CaptionTokenizer::UNKNOWN);
        }
        let drop = !keep.contains(&id) && rng.next_f64() < rate;
        out.push(if drop { CaptionTokenizer::UNKNOWN } else { id });
    }
    if rng.next_f64() < rate / 2.0 {
        out.push(CaptionTokenizer::UNKNOWN);
    }
    out
}

/// Whether `c` is written without spaces between words (CJK ideographs and punctuation, kana,
/// hangul): one token per character.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// The tokens of `text`: each CJK character alone; Latin-script words (letters and figures)
/// lowercased, each figure alone (`7`, not `17`); other characters separate tokens.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word));
        }
    };
    for c in text.chars() {
        if c.is_alphabetic() && !is_cjk(c) {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut out);
            if !c.is_whitespace() && !c.is_ascii_punctuation() {
                out.push(c.to_string());
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The tokeniser of captions: the tokens of [`tokens`] with ids; 0 pads, 1 is every token it
/// never saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionTokenizer {
    /// `vocab[id - 2]` for ids 2..; in first-seen order.
    vocab: Vec<String>,
    index: HashMap<String, u32>,
}

impl CaptionTokenizer {
    pub const PAD: u32 = 0;
    pub const UNKNOWN: u32 = 1;

    /// The tokens of `texts`.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vocab: Vec<String> = Vec::new();
        let mut index = HashMap::new();
        for text in texts {
            for token in tokens(text) {
                if !index.contains_key(&token) {
                    index.insert(token.clone(), vocab.len() as u32 + 2);
                    vocab.push(token);
                }
            }
        }
        Self { vocab, index }
    }

    /// The tokeniser of the training captions: every seen template with every digit.
    pub fn for_training() -> Self {
        let captions: Vec<String> =
            TEMPLATES.iter().filter(|t| !t.held_out).flat_map(|t| (0..10).map(|d| t.caption(d))).collect();
        Self::fit(captions.iter().map(String::as_str))
    }

    /// Ids including padding and unknown.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len() + 2
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        tokens(text).iter().map(|t| self.index.get(t).copied().unwrap_or(Self::UNKNOWN)).collect()
    }

    /// `len` ids: the caption's last `len` tokens, padding before them.
    pub fn encode_padded(&self, text: &str, len: usize) -> Vec<u32> {
        Self::pad(&self.encode(text), len)
    }

    /// The last `len` of `ids`, padding before them.
    pub fn pad(ids: &[u32], len: usize) -> Vec<u32> {
        let kept = &ids[ids.len().saturating_sub(len)..];
        let mut out = vec![Self::PAD; len - kept.len()];
        out.extend_from_slice(kept);
        out
    }

    /// The ids of the digits' names (`seven`, `七`, `7`) it knows.
    pub fn name_ids(&self) -> Vec<u32> {
        let names =
            ENGLISH_WORDS.iter().chain(&CHINESE_WORDS).map(|w| w.to_string()).chain((0..10).map(|d| d.to_string()));
        names.filter_map(|name| self.index.get(&name).copied()).collect()
    }

    /// Text of `ids`: Latin-script tokens separated by spaces, CJK characters joined; padding
    /// dropped, unknown as `<unk>`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut text = String::new();
        let mut previous_latin = false;
        for &id in ids {
            let token = match id {
                Self::PAD => continue,
                Self::UNKNOWN => "<unk>",
                id => self.vocab.get(id as usize - 2).map_or("<unk>", String::as_str),
            };
            let latin = !token.chars().all(is_cjk);
            if latin && previous_latin {
                text.push(' ');
            }
            text.push_str(token);
            previous_latin = latin;
        }
        text
    }

    /// One token per line, in id order from 2: what the run folder keeps.
    pub fn to_text(&self) -> String {
        self.vocab.iter().map(|t| format!("{t}\n")).collect()
    }

    pub fn from_text(text: &str) -> Self {
        Self::fit(text.lines().filter(|l| !l.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_in_both_languages() {
        assert_eq!(TEMPLATES[0].caption(7), "a handwritten seven");
        assert_eq!(TEMPLATES[2].caption(8), "this is an 8");
        assert_eq!(TEMPLATES[4].caption(8), "an eight");
        assert_eq!(templates(Chinese, false)[0].caption(7), "数字七");
        assert_eq!(templates(Chinese, false)[1].caption(7), "手写的7");
    }

    #[test]
    fn word_noise_keeps_the_digits_names() {
        let tokenizer = CaptionTokenizer::for_training();
        let keep = tokenizer.name_ids();
        assert_eq!(keep.len(), 30, "ten names in each language and ten figures");
        let ids = tokenizer.encode("an image of the digit seven");
        let seven = *ids.last().unwrap();
        let mut rng = SplitMix64::new(1);
        let (mut unknown, mut total) = (0, 0);
        for _ in 0..2000 {
            let noisy = add_word_noise(&ids, &keep, 0.2, &mut rng);
            assert!(noisy.contains(&seven));
            unknown += noisy.iter().filter(|&&id| id == CaptionTokenizer::UNKNOWN).count();
            total += noisy.len();
        }
        // 5 droppable tokens at 0.2 plus 7 insertion points at 0.1: about 1.7 of 6.7 tokens.
        let share = unknown as f64 / total as f64;
        assert!((0.2..0.3).contains(&share), "{share}");
        assert_eq!(add_word_noise(&ids, &keep, 0.0, &mut rng), ids);
    }

    #[test]
    fn tokens_of_both_scripts() {
        assert_eq!(tokens("The digit 7!"), ["the", "digit", "7"]);
        assert_eq!(tokens("手写的7"), ["手", "写", "的", "7"]);
        assert_eq!(tokens("数字 seven"), ["数", "字", "seven"]);
    }
}
