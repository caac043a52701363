//! Byte strings that keep short content inline.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// How many bytes [`SmallBytes`] keeps without allocating.
const INLINE: usize = 22;

/// A byte string stored inline when it has at most 22 bytes (no allocation, and nothing to
/// follow when a hash table compares it), on the heap otherwise. It hashes and compares as
/// the `[u8]` it holds, so a map keyed by it is looked up with a `&[u8]`.
#[derive(Clone)]
pub(crate) enum SmallBytes {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// A copy of `bytes`.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => {
                let mut inline = [0u8; INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                SmallBytes::Inline { len, bytes: inline }
            }
            _ => SmallBytes::Heap(bytes.into()),
        }
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SmallBytes::Heap(bytes) => bytes,
        }
    }

    /// Replaces the content with a copy of `bytes`, reusing a heap buffer of the same length.
    pub(crate) fn set(&mut self, bytes: &[u8]) {
        match self {
            SmallBytes::Heap(buffer) if buffer.len() == bytes.len() => buffer.copy_from_slice(bytes),
            _ => *self = SmallBytes::new(bytes),
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn short_and_long_content_round_trip_and_look_up_by_slice() {
        let short = b"k0001".as_slice();
        let long = [7u8; 40];
        let mut map = HashMap::new();
        map.insert(SmallBytes::new(short), 1);
        map.insert(SmallBytes::new(&long), 2);
        map.insert(SmallBytes::new(b""), 3);
        assert!(matches!(SmallBytes::new(short), SmallBytes::Inline { len: 5, .. }));
        assert!(matches!(SmallBytes::new(&long), SmallBytes::Heap(_)));
        assert_eq!(map.get(short), Some(&1));
        assert_eq!(map.get(long.as_slice()), Some(&2));
        assert_eq!(map.get(b"".as_slice()), Some(&3));
        assert_eq!(map.get(b"k0002".as_slice()), None);
        let mut value = SmallBytes::new(short);
        value.set(&long);
        assert_eq!(&*value, long.as_slice());
        value.set(&[1; 40]);
        assert_eq!(&*value, [1u8; 40].as_slice());
        value.set(b"ab");
        assert_eq!(&*value, b"ab".as_slice());
        assert_eq!(SmallBytes::new(&[9; 22]).as_slice(), [9u8; 22].as_slice());
        assert!(matches!(SmallBytes::new(&[9; 22]), SmallBytes::Inline { len: 22, .. }));
        assert!(matches!(SmallBytes::new(&[9; 23]), SmallBytes::Heap(_)));
    }
}
