//! Tokenisers shared by every text model: characters, and words with a vocabulary built on the
//! training split. Both keep an id for what they never saw, so text from elsewhere still
//! encodes, and both save to plain text for the run folder.

use std::collections::HashMap;

/// Every distinct character of a training text; id 0 is reserved for unknown characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharTokenizer {
    /// `chars[id - 1]` for ids 1..; sorted.
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharTokenizer {
    pub const UNKNOWN: u32 = 0;

    pub fn fit(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i as u32 + 1)).collect();
        Self { chars, index }
    }

    /// Ids including the unknown one.
    pub fn vocab_size(&self) -> usize {
        self.chars.len() + 1
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().map(|c| self.index.get(&c).copied().unwrap_or(Self::UNKNOWN)).collect()
    }

    /// Unknown ids become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&id| {
                if id == Self::UNKNOWN {
                    '\u{FFFD}'
                } else {
                    self.chars.get(id as usize - 1).copied().unwrap_or('\u{FFFD}')
                }
            })
            .collect()
    }

    /// The vocabulary as text: the characters in id order.
    pub fn to_text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn from_text(text: &str) -> Self {
        Self::from_chars(text.chars().collect())
    }
}

/// Words of a text: lowercased runs of letters and digits, with apostrophes inside words kept
/// (`don't`, `whale's`); everything else separates them.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner_apostrophe =
            (c == '\'' || c == '’') && !current.is_empty() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if inner_apostrophe {
            current.push('\'');
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A word vocabulary: id 0 pads, id 1 stands for words outside the vocabulary, then the most
/// frequent words of the training texts (ties in alphabetical order, so it is deterministic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordTokenizer {
    /// `words[id - 2]` for ids 2..
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl WordTokenizer {
    pub const PAD: u32 = 0;
    pub const UNKNOWN: u32 = 1;

    /// At most `max_words` words seen at least `min_count` times.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, max_words: usize, min_count: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for word in words(text) {
                *counts.entry(word).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n >= min_count).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(max_words);
        Self::from_words(ranked.into_iter().map(|(w, _)| w).collect())
    }

    fn from_words(words: Vec<String>) -> Self {
        let index = words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32 + 2)).collect();
        Self { words, index }
    }

    /// Ids including padding and unknown.
    pub fn vocab_size(&self) -> usize {
        self.words.len() + 2
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        words(text).iter().map(|w| self.index.get(w).copied().unwrap_or(Self::UNKNOWN)).collect()
    }

    /// The word of an id: `<pad>` and `<unk>` for the reserved ones.
    pub fn word(&self, id: u32) -> &str {
        match id {
            Self::PAD => "<pad>",
            Self::UNKNOWN => "<unk>",
            _ => self.words.get(id as usize - 2).map_or("<unk>", String::as_str),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().filter(|&&id| id != Self::PAD).map(|&id| self.word(id)).collect::<Vec<_>>().join(" ")
    }

    /// The vocabulary as text, one word per line in id order.
    pub fn to_text(&self) -> String {
        self.words.join("\n")
    }

    pub fn from_text(text: &str) -> Self {
        Self::from_words(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.\n";

    #[test]
    fn characters_round_trip_and_unknowns_are_marked() {
        let tokenizer = CharTokenizer::fit(TEXT);
        let ids = tokenizer.encode(TEXT);
        assert_eq!(ids.len(), TEXT.chars().count());
        assert!(ids.iter().all(|&id| id != CharTokenizer::UNKNOWN));
        assert_eq!(tokenizer.decode(&ids), TEXT);
        assert_eq!(tokenizer.decode(&tokenizer.encode("Call Z!")), "Call \u{FFFD}\u{FFFD}");
        let saved = CharTokenizer::from_text(&tokenizer.to_text());
        assert_eq!(saved, tokenizer);
        assert_eq!(tokenizer.vocab_size(), tokenizer.to_text().chars().count() + 1);
    }

    #[test]
    fn words_are_lowercased_and_keep_inner_apostrophes() {
        assert_eq!(words("Don't stop—the WHALE's tail, 1851!"), ["don't", "stop", "the", "whale's", "tail", "1851"]);
        assert_eq!(words("  'quoted' "), ["quoted"]);
        assert!(words("... — !").is_empty());
    }

    #[test]
    fn word_vocabulary_from_training_texts_with_unknowns() {
        let train = ["the whale the sea", "the ship and the whale"];
        let tokenizer = WordTokenizer::fit(train, 3, 1);
        // "the" (4), "whale" (2), then "and" first of the words seen once.
        assert_eq!(tokenizer.vocab_size(), 5);
        assert_eq!(tokenizer.encode("The whale and a sea"), [2, 3, 4, WordTokenizer::UNKNOWN, WordTokenizer::UNKNOWN]);
        assert_eq!(tokenizer.decode(&[2, 3, 0, 1]), "the whale <unk>");
        assert_eq!(WordTokenizer::from_text(&tokenizer.to_text()), tokenizer);
        let frequent = WordTokenizer::fit(train, 100, 2);
        assert_eq!(frequent.to_text(), "the\nwhale");
    }
}
