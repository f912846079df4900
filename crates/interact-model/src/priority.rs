//! A task's priority in distribution.

use serde::{Deserialize, Deserializer, Serialize};

/// Task priority for distribution: 1 (lowest) to 9 (highest); 5 if none is set.
/// Serialised as the bare number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Priority(u8);

impl Priority {
    /// Lowest.
    pub const MIN: Self = Self(1);
    /// Highest.
    pub const MAX: Self = Self(9);
    /// When no Distribution Priority step ran.
    pub const DEFAULT: Self = Self(5);

    /// `None` outside 1..=9.
    pub fn new(value: u8) -> Option<Self> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&value)
            .then_some(Self(value))
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u8::try_from(n).ok().and_then(Self::new).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "priority {n} is out of range: 1 (lowest) to 9 (highest)"
            ))
        })
    }
}
