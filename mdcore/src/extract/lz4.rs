//! LZ4 (`.lz4`, `.tlz4`) as the `lz4` tool reads it: every frame of the
//! file, one after another, as one child — standard frames (independent or
//! linked blocks, block and content checksums, content size checked),
//! legacy frames (`lz4 -l`, the Linux kernel's initramfs) and skippable
//! frames (passed over; the `lz4` tool skips them too). Blocks are decoded
//! by `lz4_flex`'s safe block decoder; the frame layer is read here, so
//! that every check the `lz4` tool makes is made: a header checksum, a
//! reserved bit, a block checksum or a content checksum that does not
//! match, a frame cut short, or a dictionary this file does not carry
//! (`DictID`) stops decoding with an error and the file blocks.
//!
//! Bytes after the last frame are left to the carver (as the `lz4` tool
//! leaves them); a standard frame found inside other bytes is carved
//! ([`carve`]).

use std::hash::Hasher as _;
use std::io::{self, Read};

use twox_hash::XxHash32;

use super::{Cx, Extractor, Issue, Sink, one_child, strip_compression_ext};
use crate::kind::Span;

pub(crate) struct Lz4;

const FRAME: u32 = 0x184d_2204;
const LEGACY: u32 = 0x184c_2102;
/// Skippable frames: 0x184D2A50 to 0x184D2A5F.
fn skippable(magic: u32) -> bool {
    magic & 0xffff_fff0 == 0x184d_2a50
}
/// A legacy block decodes to at most 8 MiB; a block size above what that
/// compresses to at worst is the magic of the next frame.
const LEGACY_BLOCK: usize = 8 << 20;
const LEGACY_BOUND: u32 = (LEGACY_BLOCK + LEGACY_BLOCK / 255 + 16) as u32;
/// Linked blocks may refer this far back into what came before.
const WINDOW: usize = 64 << 10;

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn cut() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "lz4 stream cut short")
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// A standard frame's header, checked as `lz4` checks it.
#[derive(Debug)]
struct Header {
    len: usize,
    max_block: usize,
    linked: bool,
    block_sums: bool,
    content_sum: bool,
    content_size: Option<u64>,
}

fn header(d: &[u8]) -> io::Result<Header> {
    let flg = *d.get(4).ok_or_else(cut)?;
    let bd = *d.get(5).ok_or_else(cut)?;
    if flg >> 6 != 1 {
        return Err(bad(format!(
            "lz4 frame of an unknown version ({})",
            flg >> 6
        )));
    }
    if flg & 0x02 != 0 || bd & 0x8f != 0 {
        return Err(bad("lz4 frame header with a reserved bit set"));
    }
    let max_block = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        n => return Err(bad(format!("lz4 frame with an unknown block size ({n})"))),
    };
    let has_size = flg & 0x08 != 0;
    let has_dict = flg & 0x01 != 0;
    let len = 7 + if has_size { 8 } else { 0 } + if has_dict { 4 } else { 0 };
    let descriptor = d.get(4..len - 1).ok_or_else(cut)?;
    let hc = *d.get(len - 1).ok_or_else(cut)?;
    if (XxHash32::oneshot(0, descriptor) >> 8) as u8 != hc {
        return Err(bad("lz4 frame header checksum does not match"));
    }
    if has_dict {
        return Err(bad(
            "lz4 frame compressed against an external dictionary (DictID), which the file does not carry",
        ));
    }
    let content_size = if has_size {
        let b = d.get(6..14).ok_or_else(cut)?;
        Some(u64::from_le_bytes(b.try_into().map_err(|_| cut())?))
    } else {
        None
    };
    Ok(Header {
        len,
        max_block,
        linked: flg & 0x20 == 0,
        block_sums: flg & 0x10 != 0,
        content_sum: flg & 0x04 != 0,
        content_size,
    })
}

enum State {
    /// At a frame boundary.
    Between,
    Frame {
        h: Header,
        produced: u64,
        hasher: XxHash32,
    },
    Legacy,
    Done,
}

/// Every frame of the file as one stream of decoded bytes.
struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    state: State,
    /// The last decoded block and how much of it was handed out.
    out: Vec<u8>,
    given: usize,
    /// The last [`WINDOW`] bytes decoded in this frame (linked blocks).
    window: Vec<u8>,
    /// Frames decoded (skippable ones not counted).
    frames: usize,
    /// Where the last complete frame ended.
    end: Option<usize>,
}

impl<'a> Frames<'a> {
    fn new(data: &'a [u8]) -> Self {
        Frames {
            data,
            pos: 0,
            state: State::Between,
            out: Vec::new(),
            given: 0,
            window: Vec::new(),
            frames: 0,
            end: None,
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let d = self.data;
        let b = d
            .get(self.pos..self.pos.checked_add(n).ok_or_else(cut)?)
            .ok_or_else(cut)?;
        self.pos += n;
        Ok(b)
    }

    fn frame_done(&mut self) {
        self.frames += 1;
        self.end = Some(self.pos);
        self.state = State::Between;
    }

    /// Decodes the next block into `out`, or moves between frames.
    fn step(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => Ok(()),
            State::Between => {
                let rest = self.rest();
                let Some(magic) = u32_at(rest, 0) else {
                    // The end, or a few bytes that start nothing.
                    return self.no_frame_here();
                };
                if magic == FRAME {
                    let h = header(rest)?;
                    self.pos += h.len;
                    self.window.clear();
                    self.state = State::Frame {
                        h,
                        produced: 0,
                        hasher: XxHash32::with_seed(0),
                    };
                } else if magic == LEGACY {
                    self.pos += 4;
                    self.state = State::Legacy;
                } else if skippable(magic) {
                    let size = u32_at(rest, 4).ok_or_else(cut)?;
                    self.take(8usize.saturating_add(size as usize))?;
                    self.state = State::Between;
                } else {
                    return self.no_frame_here();
                }
                Ok(())
            }
            State::Frame {
                h,
                mut produced,
                mut hasher,
            } => {
                let word = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| cut())?);
                if word == 0 {
                    if let Some(size) = h.content_size
                        && size != produced
                    {
                        return Err(bad(format!(
                            "lz4 frame declares {size} bytes and holds {produced}"
                        )));
                    }
                    if h.content_sum {
                        let want = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| cut())?);
                        if hasher.finish_32() != want {
                            return Err(bad("lz4 content checksum does not match"));
                        }
                    }
                    self.frame_done();
                    return Ok(());
                }
                let raw = word & 0x8000_0000 != 0;
                let len = (word & 0x7fff_ffff) as usize;
                if len > h.max_block {
                    return Err(bad("lz4 block larger than the frame's block size"));
                }
                let block = self.take(len)?;
                if h.block_sums {
                    let want = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| cut())?);
                    if XxHash32::oneshot(0, block) != want {
                        return Err(bad("lz4 block checksum does not match"));
                    }
                }
                if raw {
                    self.out.clear();
                    self.out.extend_from_slice(block);
                } else {
                    self.out.resize(h.max_block, 0);
                    let dict: &[u8] = if h.linked { &self.window } else { &[] };
                    let n = lz4_flex::block::decompress_into_with_dict(block, &mut self.out, dict)
                        .map_err(|e| bad(format!("lz4 block does not decode: {e}")))?;
                    self.out.truncate(n);
                }
                self.given = 0;
                if h.linked {
                    self.window.extend_from_slice(&self.out);
                    let over = self.window.len().saturating_sub(WINDOW);
                    self.window.drain(..over);
                }
                if h.content_sum {
                    hasher.write(&self.out);
                }
                produced = produced.saturating_add(self.out.len() as u64);
                self.state = State::Frame {
                    h,
                    produced,
                    hasher,
                };
                Ok(())
            }
            State::Legacy => {
                let rest = self.rest();
                let Some(size) = u32_at(rest, 0) else {
                    // End of file (or a few bytes left to the carver).
                    self.frame_done();
                    return Ok(());
                };
                if size > LEGACY_BOUND {
                    // The next frame's magic.
                    self.frame_done();
                    return Ok(());
                }
                self.pos += 4;
                let block = self.take(size as usize)?;
                self.out.resize(LEGACY_BLOCK, 0);
                let n = lz4_flex::block::decompress_into(block, &mut self.out)
                    .map_err(|e| bad(format!("lz4 legacy block does not decode: {e}")))?;
                if n == 0 {
                    return Err(bad("lz4 legacy block decodes to nothing"));
                }
                self.out.truncate(n);
                self.given = 0;
                self.state = State::Legacy;
                Ok(())
            }
        }
    }

    /// At a frame boundary with no frame: the end after one frame or
    /// more (what follows is trailing data), an error before any.
    fn no_frame_here(&mut self) -> io::Result<()> {
        if self.frames == 0 {
            return Err(bad(if self.pos == 0 {
                "not an lz4 frame"
            } else {
                "no lz4 frame after the skippable frames"
            }));
        }
        self.end = Some(self.pos);
        self.state = State::Done;
        Ok(())
    }
}

impl Read for Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = super::give_out(&self.out, &mut self.given, buf);
            if n > 0 {
                return Ok(n);
            }
            if matches!(self.state, State::Done) || buf.is_empty() {
                return Ok(0);
            }
            self.out.clear();
            self.given = 0;
            self.step()?;
        }
    }
}

impl Extractor for Lz4 {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["lz4"]);
        one_child(Frames::new(data), |r| r.end.unwrap_or(1), name, cx, sink)
    }
}

/// Carving: a standard frame whose header checksum matches and whose
/// first 64 KiB decode.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let p = d.get(at..)?;
    header(p).ok()?;
    let mut frames = Frames::new(p);
    super::trial_decode(&mut frames).then_some(Span {
        start: at,
        end: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of one block with every flag the tests need, built by hand.
    fn frame(flg: u8, blocks: &[(bool, &[u8])], content: &[u8]) -> Vec<u8> {
        let mut d = FRAME.to_le_bytes().to_vec();
        let mut desc = vec![flg, 0x40];
        if flg & 0x08 != 0 {
            desc.extend_from_slice(&(content.len() as u64).to_le_bytes());
        }
        d.extend_from_slice(&desc);
        d.push((XxHash32::oneshot(0, &desc) >> 8) as u8);
        for (raw, b) in blocks {
            let word = b.len() as u32 | if *raw { 0x8000_0000 } else { 0 };
            d.extend_from_slice(&word.to_le_bytes());
            d.extend_from_slice(b);
            if flg & 0x10 != 0 {
                d.extend_from_slice(&XxHash32::oneshot(0, b).to_le_bytes());
            }
        }
        d.extend_from_slice(&0u32.to_le_bytes());
        if flg & 0x04 != 0 {
            d.extend_from_slice(&XxHash32::oneshot(0, content).to_le_bytes());
        }
        d
    }

    fn decode(d: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Frames::new(d).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn frames_with_every_check_decode() {
        let text = b"hello hello hello hello lz4".repeat(50);
        let packed = lz4_flex::block::compress(&text);
        // Independent blocks, block and content checksums, content size.
        let f = frame(0x60 | 0x10 | 0x08 | 0x04, &[(false, &packed)], &text);
        assert_eq!(decode(&f).unwrap(), text);
        // A stored block, then a skippable frame and a second frame.
        let mut two = frame(0x60, &[(true, b"abc")], b"abc");
        two.extend_from_slice(&0x184d_2a5au32.to_le_bytes());
        two.extend_from_slice(&3u32.to_le_bytes());
        two.extend_from_slice(b"xyz");
        two.extend(frame(0x60, &[(true, b"def")], b"def"));
        assert_eq!(decode(&two).unwrap(), b"abcdef");
    }

    #[test]
    fn broken_frames_are_errors() {
        let text = b"0123456789".repeat(30);
        let packed = lz4_flex::block::compress(&text);
        let good = frame(0x60 | 0x10 | 0x04, &[(false, &packed)], &text);
        // Cut anywhere inside: an error, never a short clean read.
        for cut in 1..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        // A flipped bit in the header, a block or the content checksum.
        for at in [5, 8, good.len() - 2] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            assert!(decode(&bad).is_err(), "flip at {at}");
        }
        // A dictionary the file does not carry.
        let mut dict = FRAME.to_le_bytes().to_vec();
        let desc = [0x61, 0x40, 1, 2, 3, 4];
        dict.extend_from_slice(&desc);
        dict.push((XxHash32::oneshot(0, &desc) >> 8) as u8);
        assert!(
            decode(&dict)
                .unwrap_err()
                .to_string()
                .contains("dictionary")
        );
        // Only skippable frames.
        let mut skip = 0x184d_2a50u32.to_le_bytes().to_vec();
        skip.extend_from_slice(&0u32.to_le_bytes());
        assert!(decode(&skip).is_err());
    }

    #[test]
    fn legacy_frames_end_at_the_next_magic() {
        let text = b"legacy legacy legacy".repeat(100);
        let packed = lz4_flex::block::compress(&text);
        let mut d = LEGACY.to_le_bytes().to_vec();
        d.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        d.extend_from_slice(&packed);
        d.extend(frame(0x60, &[(true, b"!")], b"!"));
        assert_eq!(decode(&d).unwrap(), [&text[..], b"!"].concat());
    }
}
