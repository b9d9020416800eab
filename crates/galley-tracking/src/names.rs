//! Friendly generated run names (`adjective-noun-123`), as MLflow gives runs created without one.

use rand::seq::IndexedRandom as _;
use rand::Rng as _;

const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fair",
    "gentle", "glad", "grand", "keen", "kind", "lively", "lucid", "merry", "nimble", "polite",
    "proud", "quick", "quiet", "rare", "sharp", "shiny", "silent", "smooth", "steady", "sunny",
    "swift", "tidy", "vast", "warm", "wise", "zesty",
];

const NOUNS: &[&str] = &[
    "ant", "bass", "bat", "bear", "bee", "carp", "cat", "colt", "crab", "crane", "deer", "dove",
    "eel", "elk", "finch", "fox", "frog", "goat", "gull", "hare", "hawk", "horse", "jay", "koi",
    "lark", "lynx", "mole", "moth", "newt", "owl", "ox", "panda", "ram", "seal", "shrew", "skink",
    "snail", "stork", "swan", "toad", "trout", "wasp", "whale", "wolf", "wren", "yak",
];

pub fn generate_run_name() -> String {
    let mut rng = rand::rng();
    format!(
        "{}-{}-{}",
        ADJECTIVES.choose(&mut rng).copied().unwrap_or("able"),
        NOUNS.choose(&mut rng).copied().unwrap_or("ant"),
        rng.random_range(0..1000)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::generate_run_name();
        assert_eq!(name.split('-').count(), 3, "{name}");
    }
}
