//! Encoding helpers shared by every DAP message: length-prefixed opaque vectors with range
//! checks, fixed-size arrays and "to the end of the message" vectors.
//!
//! `prio::codec` decodes `opaque<..>` byte strings one element at a time; these helpers copy
//! slices instead, and enforce the lower bound of each vector's declared range, which DAP uses
//! (e.g. `opaque payload<1..2^32-1>`).

use prio::codec::{CodecError, Decode, Encode};
use std::io::{Cursor, Read};

/// The width of a vector's length prefix, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// `<..2^8-1>`
    U8,
    /// `<..2^16-1>`
    U16,
    /// `<..2^32-1>`
    U32,
}

impl Prefix {
    fn max(self) -> usize {
        match self {
            Prefix::U8 => u8::MAX as usize,
            Prefix::U16 => u16::MAX as usize,
            Prefix::U32 => u32::MAX as usize,
        }
    }
}

/// Appends `data` with a length prefix of width `prefix`. Fails if `data` does not fit.
pub fn put_opaque(out: &mut Vec<u8>, prefix: Prefix, data: &[u8]) -> Result<(), CodecError> {
    put_len(out, prefix, data.len())?;
    out.extend_from_slice(data);
    Ok(())
}

/// Appends a length prefix of width `prefix` for `len` bytes that the caller writes next.
pub fn put_len(out: &mut Vec<u8>, prefix: Prefix, len: usize) -> Result<(), CodecError> {
    if len > prefix.max() {
        return Err(CodecError::LengthPrefixOverflow);
    }
    match prefix {
        Prefix::U8 => out.push(len as u8),
        Prefix::U16 => out.extend_from_slice(&(len as u16).to_be_bytes()),
        Prefix::U32 => out.extend_from_slice(&(len as u32).to_be_bytes()),
    }
    Ok(())
}

/// Encodes `item` behind a length prefix (for `opaque x<..>` fields that hold an encoded struct).
pub fn put_encoded<E: Encode>(
    out: &mut Vec<u8>,
    prefix: Prefix,
    item: &E,
) -> Result<(), CodecError> {
    let start = out.len();
    put_len(out, prefix, 0)?;
    let body = out.len();
    item.encode(out)?;
    let len = out.len() - body;
    let mut tmp = Vec::with_capacity(4);
    put_len(&mut tmp, prefix, len)?;
    out[start..body].copy_from_slice(&tmp);
    Ok(())
}

/// Reads a length prefix of width `prefix`.
pub fn get_len(r: &mut Cursor<&[u8]>, prefix: Prefix) -> Result<usize, CodecError> {
    Ok(match prefix {
        Prefix::U8 => u8::decode(r)? as usize,
        Prefix::U16 => u16::decode(r)? as usize,
        Prefix::U32 => u32::decode(r)? as usize,
    })
}

/// Reads a length-prefixed byte string whose length must be at least `min`.
pub fn get_opaque(
    r: &mut Cursor<&[u8]>,
    prefix: Prefix,
    min: usize,
) -> Result<Vec<u8>, CodecError> {
    let len = get_len(r, prefix)?;
    if len < min {
        return Err(CodecError::UnexpectedValue);
    }
    let slice = take(r, len)?;
    Ok(slice.to_vec())
}

/// Returns the next `len` bytes of `r` without copying, advancing the cursor.
pub fn take<'a>(r: &mut Cursor<&'a [u8]>, len: usize) -> Result<&'a [u8], CodecError> {
    let pos = r.position() as usize;
    let buf: &'a [u8] = r.get_ref();
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= buf.len())
        .ok_or(CodecError::LengthPrefixTooBig(len))?;
    r.set_position(end as u64);
    Ok(&buf[pos..end])
}

/// Reads a length-prefixed sub-message and decodes it exactly (no bytes may be left over).
pub fn get_encoded<D: Decode>(r: &mut Cursor<&[u8]>, prefix: Prefix) -> Result<D, CodecError> {
    let len = get_len(r, prefix)?;
    let slice = take(r, len)?;
    D::get_decoded(slice)
}

/// Reads a fixed-size array.
pub fn get_array<const N: usize>(r: &mut Cursor<&[u8]>) -> Result<[u8; N], CodecError> {
    let mut out = [0u8; N];
    r.read_exact(&mut out)?;
    Ok(out)
}

/// Decodes items until the end of the input (`T items[message_length]`).
pub fn get_rest<D: Decode>(r: &mut Cursor<&[u8]>) -> Result<Vec<D>, CodecError> {
    let mut items = Vec::new();
    let len = r.get_ref().len() as u64;
    while r.position() < len {
        items.push(D::decode(r)?);
    }
    Ok(items)
}

/// Encodes a vector of items behind a length prefix.
pub fn put_items<E: Encode>(
    out: &mut Vec<u8>,
    prefix: Prefix,
    items: &[E],
) -> Result<(), CodecError> {
    let start = out.len();
    put_len(out, prefix, 0)?;
    let body = out.len();
    for item in items {
        item.encode(out)?;
    }
    let len = out.len() - body;
    let mut tmp = Vec::with_capacity(4);
    put_len(&mut tmp, prefix, len)?;
    out[start..body].copy_from_slice(&tmp);
    Ok(())
}

/// Decodes a length-prefixed vector of items; the items must fill the declared length exactly.
pub fn get_items<D: Decode>(r: &mut Cursor<&[u8]>, prefix: Prefix) -> Result<Vec<D>, CodecError> {
    let len = get_len(r, prefix)?;
    let slice = take(r, len)?;
    let mut sub = Cursor::new(slice);
    get_rest(&mut sub)
}

/// Decodes exactly one value from `bytes`, refusing trailing bytes.
pub fn decode_exact<D: Decode>(bytes: &[u8]) -> Result<D, CodecError> {
    D::get_decoded(bytes)
}

/// Encodes a value; encoding only fails for vectors longer than their length prefix allows.
pub fn encode<E: Encode>(item: &E) -> Result<Vec<u8>, CodecError> {
    item.get_encoded()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_roundtrip_and_bounds() {
        let mut out = Vec::new();
        put_opaque(&mut out, Prefix::U16, b"abc").unwrap();
        assert_eq!(out, [0, 3, b'a', b'b', b'c']);
        let mut r = Cursor::new(out.as_slice());
        assert_eq!(get_opaque(&mut r, Prefix::U16, 1).unwrap(), b"abc");
        // Below the declared minimum.
        let mut r = Cursor::new(&[0u8, 0][..]);
        assert!(get_opaque(&mut r, Prefix::U16, 1).is_err());
        // Length beyond the input.
        let mut r = Cursor::new(&[0u8, 9, 1][..]);
        assert!(get_opaque(&mut r, Prefix::U16, 0).is_err());
        // Too long for its prefix.
        assert!(put_opaque(&mut Vec::new(), Prefix::U8, &[0u8; 256]).is_err());
    }
}
