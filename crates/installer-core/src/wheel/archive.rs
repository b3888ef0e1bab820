//! Reading an archive's members: a `Read + Seek` view of the open file that reads with `pread`,
//! so each clone has its own position and threads decompress different members of one file
//! without sharing a cursor or reopening it, and a [`MemberReader`] per thread on top of it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use crate::wheel::layout::Member;
use crate::wheel::WheelError;

/// Members up to this size are inflated whole by libdeflate: 1.7 times as fast as zlib-rs
/// streaming through `zip` on the dev corpus (a quarter of a cold install's CPU time was
/// inflating), and 72% of its bytes are in such members. It bounds the memory a thread holds:
/// this much of output and about as much of input.
pub(crate) const WHOLE: u64 = 1 << 20;

/// Reads members of one archive, one thread's: small ones whole, inflated by libdeflate with
/// its buffers reused, large ones (or the rare encrypted or otherwise compressed one) through
/// `zip`'s streaming readers, which check what they produce the same way (size, CRC-32).
pub(crate) struct MemberReader {
    zip: ZipArchive<ArchiveReader>,
    inflater: libdeflater::Decompressor,
    /// The compressed bytes of the member being read.
    raw: Vec<u8>,
}

impl MemberReader {
    pub(crate) fn new(zip: ZipArchive<ArchiveReader>) -> Self {
        MemberReader { zip, inflater: libdeflater::Decompressor::new(), raw: Vec::new() }
    }

    /// The whole content of `member`, checked against its declared size (nothing beyond it is
    /// produced) and, where the size matches, its CRC-32. A shorter content is returned as
    /// is: the caller's size check names it.
    pub(crate) fn read(&mut self, member: &Member) -> Result<Vec<u8>, WheelError> {
        let corrupt = |source| corrupt(member, source);
        let invalid = |why: &str| corrupt(ZipError::Io(io::Error::new(io::ErrorKind::InvalidData, why)));
        let entry = self.zip.by_index_raw(member.index).map_err(corrupt)?;
        let method = entry.compression();
        let inflatable = matches!(method, CompressionMethod::Stored | CompressionMethod::Deflated)
            && !entry.encrypted()
            && member.size <= WHOLE
            // Deflate's worst case grows data by a few bytes per 64 KiB block.
            && entry.compressed_size() <= WHOLE + 4096;
        if !inflatable {
            drop(entry);
            return self.read_streamed(member);
        }
        let crc = entry.crc32();
        self.raw.clear();
        let expected = entry.compressed_size();
        entry.take(expected).read_to_end(&mut self.raw).map_err(|e| corrupt(e.into()))?;
        if (self.raw.len() as u64) < expected {
            return Err(corrupt(ZipError::Io(io::ErrorKind::UnexpectedEof.into())));
        }
        let oversized = || WheelError::Oversized { path: member.path.clone(), expected: member.size };
        let mut content = vec![0; usize::try_from(member.size).map_err(|_| oversized())?];
        let len = if method == CompressionMethod::Stored {
            let stored = content.get_mut(..self.raw.len()).ok_or_else(oversized)?;
            stored.copy_from_slice(&self.raw);
            self.raw.len()
        } else {
            match self.inflater.deflate_decompress(&self.raw, &mut content) {
                Ok(len) => len,
                Err(libdeflater::DecompressionError::InsufficientSpace) => return Err(oversized()),
                Err(libdeflater::DecompressionError::BadData) => return Err(invalid("invalid deflate data")),
            }
        };
        content.truncate(len);
        if len as u64 == member.size && libdeflater::crc32(&content) != crc {
            return Err(invalid("CRC-32 mismatch"));
        }
        Ok(content)
    }

    /// [`MemberReader::read`] through `zip`'s reader.
    fn read_streamed(&mut self, member: &Member) -> Result<Vec<u8>, WheelError> {
        let file = self.stream(member)?;
        let mut content = Vec::with_capacity(usize::try_from(member.size.min(WHOLE)).unwrap_or(0));
        // One byte more than declared, so an oversized member is seen without reading on.
        let read = file.take(member.size.saturating_add(1)).read_to_end(&mut content);
        read.map_err(|e| corrupt(member, e.into()))?;
        if content.len() as u64 > member.size {
            return Err(WheelError::Oversized { path: member.path.clone(), expected: member.size });
        }
        Ok(content)
    }

    /// A reader of `member`'s content, decompressing as it goes and checking the CRC-32 at the
    /// end; the caller bounds what it reads by the declared size.
    pub(crate) fn stream(&mut self, member: &Member) -> Result<ZipFile<'_, ArchiveReader>, WheelError> {
        self.zip.by_index(member.index).map_err(|source| corrupt(member, source))
    }
}

/// `member` could not be read or decompressed, for `source`.
fn corrupt(member: &Member, source: ZipError) -> WheelError {
    WheelError::Corrupt { path: member.path.clone(), source }
}

/// Reads below this size go through the buffer; larger ones go straight to the caller.
/// The zip reader asks for headers a few dozen bytes at a time; one `pread` of this size
/// usually covers a member's local header and its (small) data.
const BUFFER_SIZE: usize = 64 * 1024;

pub(crate) struct ArchiveReader {
    file: Arc<File>,
    len: u64,
    pos: u64,
    /// Allocated on first use, so clones that only stream large members never allocate it.
    buf: Vec<u8>,
    /// File offset of `buf[0]`; `buf[..buf_len]` holds the bytes `[buf_start, buf_start + buf_len)`.
    buf_start: u64,
    buf_len: usize,
}

impl ArchiveReader {
    pub(crate) fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(ArchiveReader { file: Arc::new(file), len, pos: 0, buf: Vec::new(), buf_start: 0, buf_len: 0 })
    }

    fn buffered(&self) -> Option<&[u8]> {
        let offset = self.pos.checked_sub(self.buf_start)?;
        let offset = usize::try_from(offset).ok()?;
        self.buf.get(offset..self.buf_len).filter(|rest| !rest.is_empty())
    }
}

impl Clone for ArchiveReader {
    /// A clone shares the file but not the position or the buffer.
    fn clone(&self) -> Self {
        ArchiveReader {
            file: Arc::clone(&self.file),
            len: self.len,
            pos: self.pos,
            buf: Vec::new(),
            buf_start: 0,
            buf_len: 0,
        }
    }
}

impl Read for ArchiveReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(rest) = self.buffered() {
            let n = rest.len().min(out.len());
            out[..n].copy_from_slice(&rest[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if out.len() >= BUFFER_SIZE {
            let n = crate::platform::read_at(&self.file, out, self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        if self.buf.is_empty() {
            self.buf = vec![0; BUFFER_SIZE];
        }
        self.buf_len = 0;
        let n = crate::platform::read_at(&self.file, &mut self.buf, self.pos)?;
        self.buf_len = n;
        self.buf_start = self.pos;
        let n = n.min(out.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ArchiveReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the archive")
        })?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn clones_read_independently_and_seek() {
        let mut tmp = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        tmp.write_all(&data).unwrap();
        let mut a = ArchiveReader::new(tmp).unwrap();
        let mut b = a.clone();
        let mut small = [0u8; 10];
        a.seek(SeekFrom::Start(1000)).unwrap();
        a.read_exact(&mut small).unwrap();
        assert_eq!(small, data[1000..1010]);
        b.read_exact(&mut small).unwrap();
        assert_eq!(small, data[..10]);
        // Big reads bypass the buffer; reads that straddle the buffer's end continue past it.
        let mut big = vec![0u8; 100_000];
        a.read_exact(&mut big).unwrap();
        assert_eq!(big, data[1010..101_010]);
        assert_eq!(a.seek(SeekFrom::End(-5)).unwrap(), 199_995);
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[199_995..]);
        assert!(a.seek(SeekFrom::Current(-300_000)).is_err());
        assert_eq!(a.seek(SeekFrom::Current(-10)).unwrap(), 199_990);
    }
}
