//! Resource names and amounts: cpu in millicores, memory in bytes, GPUs counted per flavor; and
//! the quantity spellings users write (`500m`, `2`, `4Gi`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A schedulable resource. GPUs are told apart by flavor (a model such as `nvidia-h100`, a MIG
/// profile such as `nvidia-a100-1g.10gb`, or any name an inventory declares).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Cpu,
    Memory,
    Gpu(String),
}

impl Resource {
    /// Renders an amount of this resource the way a user would write it.
    pub fn format_amount(&self, amount: u64) -> String {
        match self {
            Resource::Cpu => format_cpu(amount),
            Resource::Memory => format_memory(amount),
            Resource::Gpu(_) => amount.to_string(),
        }
    }

    /// Reads an amount of this resource from its user spelling.
    pub fn parse_amount(&self, text: &str) -> Result<u64, String> {
        match self {
            Resource::Cpu => parse_cpu(text),
            Resource::Memory => parse_memory(text),
            Resource::Gpu(_) => text
                .trim()
                .parse()
                .map_err(|_| format!("'{text}' is not a whole number of GPUs")),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Cpu => f.write_str("cpu"),
            Resource::Memory => f.write_str("memory"),
            Resource::Gpu(flavor) => write!(f, "gpu/{flavor}"),
        }
    }
}

impl FromStr for Resource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "cpu" => Ok(Resource::Cpu),
            "memory" => Ok(Resource::Memory),
            _ => match text.strip_prefix("gpu/") {
                Some(flavor) if valid_flavor(flavor) => Ok(Resource::Gpu(flavor.to_string())),
                _ => Err(format!(
                    "unknown resource '{text}': expected cpu, memory or gpu/<flavor> \
                     (flavor of letters, digits, '.', '-' and '_')"
                )),
            },
        }
    }
}

/// Flavor names travel into env vars, labels and file names, so they are kept plain.
pub fn valid_flavor(flavor: &str) -> bool {
    !flavor.is_empty()
        && flavor.len() <= 63
        && flavor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Amounts per resource; a resource that is absent is zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(BTreeMap<Resource, u64>);

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, resource: &Resource) -> u64 {
        self.0.get(resource).copied().unwrap_or(0)
    }

    /// Sets an amount; zero removes the entry so equal amounts compare equal.
    pub fn set(&mut self, resource: Resource, amount: u64) {
        if amount == 0 {
            self.0.remove(&resource);
        } else {
            self.0.insert(resource, amount);
        }
    }

    pub fn with(mut self, resource: Resource, amount: u64) -> Self {
        self.set(resource, amount);
        self
    }

    pub fn add(&mut self, other: &Resources) {
        for (resource, amount) in &other.0 {
            let sum = self.get(resource).saturating_add(*amount);
            self.set(resource.clone(), sum);
        }
    }

    /// Subtracts, stopping at zero: usage never goes negative even if a caller double-releases.
    pub fn sub(&mut self, other: &Resources) {
        for (resource, amount) in &other.0 {
            let rest = self.get(resource).saturating_sub(*amount);
            self.set(resource.clone(), rest);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Resource, u64)> {
        self.0.iter().map(|(r, a)| (r, *a))
    }

    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.0.keys()
    }

    /// `cpu=2, memory=4Gi, gpu/nvidia-h100=1`, for messages.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "nothing".into();
        }
        self.0
            .iter()
            .map(|(r, a)| format!("{r}={}", r.format_amount(*a)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromIterator<(Resource, u64)> for Resources {
    fn from_iter<I: IntoIterator<Item = (Resource, u64)>>(iter: I) -> Self {
        let mut out = Resources::new();
        for (r, a) in iter {
            let sum = out.get(&r).saturating_add(a);
            out.set(r, sum);
        }
        out
    }
}

/// CPU as Kubernetes writes it: whole or fractional cores (`2`, `0.5`) or millicores (`500m`).
pub fn parse_cpu(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a cpu amount like 2, 0.5 or 500m");
    if let Some(millis) = text.strip_suffix('m') {
        return millis.parse().map_err(|_| bad());
    }
    let cores: f64 = text.parse().map_err(|_| bad())?;
    if !(0.0..=1e12).contains(&cores) {
        return Err(bad());
    }
    let millis = cores * 1000.0;
    if millis.fract().abs() > 1e-6 {
        return Err(format!("'{text}' is finer than a millicore"));
    }
    Ok(millis.round() as u64)
}

pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

const MEMORY_SUFFIXES: [(&str, u64); 8] = [
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("K", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
];

/// Memory as Kubernetes writes it: bytes, or a number with a binary (`Gi`) or decimal (`G`) suffix.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a memory amount like 512Mi, 4Gi or 1000000");
    let (number, unit) = MEMORY_SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, *unit)))
        .unwrap_or((text, 1));
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(unit).ok_or_else(bad);
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * unit as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

pub fn format_memory(bytes: u64) -> String {
    for (suffix, unit) in MEMORY_SUFFIXES.iter().take(4).rev() {
        if bytes != 0 && bytes.is_multiple_of(*unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(parse_cpu("2"), Ok(2000));
        assert_eq!(parse_cpu("0.5"), Ok(500));
        assert_eq!(parse_cpu("250m"), Ok(250));
        assert!(parse_cpu("-1").is_err());
        assert!(parse_cpu("0.0001").is_err());
        assert!(parse_cpu("two").is_err());
        assert_eq!(parse_memory("4Gi"), Ok(4 << 30));
        assert_eq!(parse_memory("1.5Gi"), Ok(3 << 29));
        assert_eq!(parse_memory("1G"), Ok(1_000_000_000));
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert!(parse_memory("4GB").is_err());
        assert!(parse_memory("99999999999Ti").is_err());
    }

    #[test]
    fn resource_names_round_trip() {
        for name in [
            "cpu",
            "memory",
            "gpu/nvidia-h100",
            "gpu/nvidia-a100-1g.10gb",
        ] {
            assert_eq!(name.parse::<Resource>().unwrap().to_string(), name);
        }
        assert!("gpu/".parse::<Resource>().is_err());
        assert!("gpu/a b".parse::<Resource>().is_err());
        assert!("disk".parse::<Resource>().is_err());
    }

    #[test]
    fn zero_amounts_are_absent() {
        let mut r = Resources::new().with(Resource::Cpu, 1000);
        r.sub(&Resources::new().with(Resource::Cpu, 5000));
        assert!(r.is_zero());
        assert_eq!(r, Resources::new());
    }

    proptest! {
        #[test]
        fn formatted_amounts_parse_back(millis in 0u64..10_000_000, bytes in 0u64..(1 << 50)) {
            prop_assert_eq!(parse_cpu(&format_cpu(millis)), Ok(millis));
            prop_assert_eq!(parse_memory(&format_memory(bytes)), Ok(bytes));
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,12}") {
            let _ = parse_cpu(&text);
            let _ = parse_memory(&text);
            let _ = text.parse::<Resource>();
        }
    }
}
