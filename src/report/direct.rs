//! The events file written past the page cache (`O_DIRECT`, Linux).
//!
//! A capacity run writes its event stream at several hundred MB/s. Through
//! ordinary writes the kernel copies every byte into the page cache, and on
//! a 2-core machine that copy took a quarter of all CPU time (the page
//! cache growing into memory no process had touched), time taken from the
//! engine and the checks. A file opened with `O_DIRECT` is written from
//! the process's own buffer instead: no copy, and the page cache does not
//! grow by the file's size.
//!
//! Direct writes must start at an aligned file offset, from an aligned
//! buffer, in whole blocks ([`ALIGN`]). [`DirectSink`] gathers the stream
//! in an aligned buffer and writes whole blocks of it; the tail that does
//! not fill a block is written at the end with `O_DIRECT` turned off. Like
//! [`super::export`]'s line sink, it only ever leaves whole lines: when a
//! write fails, the file is cut back to the end of the last line written
//! whole. A file system that refuses direct writes gets ordinary ones.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Alignment of a direct write's offset, buffer and length: the largest
/// logical block size of common devices.
const ALIGN: usize = 4096;

/// Bytes gathered before they are written: large writes, few of them.
const CAPACITY: usize = 1 << 20;

/// What [`DirectSink`] writes to: a file, or a test's stand-in.
pub(crate) trait Device {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Cut the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Turn `O_DIRECT` off: the writes after are ordinary ones.
    fn buffered(&mut self) -> io::Result<()>;
}

impl Device for File {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Write::write_all(self, bytes)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    #[cfg(target_os = "linux")]
    fn buffered(&mut self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.as_raw_fd();
        // SAFETY: `fd` is this file's open descriptor for the whole call;
        // F_GETFL and F_SETFL read and set its status flags and touch no
        // memory of ours.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn buffered(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A stream written in whole aligned blocks to a file opened for direct
/// writes; see the module's documentation.
pub(crate) struct DirectSink<D: Device = File> {
    device: D,
    /// `ALIGN + CAPACITY` bytes; the aligned window starts at `start`.
    buf: Vec<u8>,
    start: usize,
    /// Bytes waiting in the window.
    len: usize,
    /// Bytes written to the file.
    written: u64,
    /// File offset just past the last newline written.
    line_end: u64,
    /// Whether writes still bypass the page cache.
    direct: bool,
}

impl DirectSink<File> {
    /// Create (truncate) `path` for direct writes. `None` where direct
    /// writes do not apply: not Linux, an existing path that is not a
    /// regular file (a device, a pipe), or a file system that refuses
    /// `O_DIRECT` when opening; the caller then opens the file as usual.
    pub(crate) fn create(path: &Path) -> Option<DirectSink<File>> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        if path.metadata().is_ok_and(|m| !m.is_file()) {
            return None;
        }
        let file = open_direct(path).ok()?;
        file.metadata()
            .is_ok_and(|m| m.is_file())
            .then(|| DirectSink::new(file))
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> io::Result<File> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

impl<D: Device> DirectSink<D> {
    /// A sink over `device`, opened for direct writes.
    pub(crate) fn new(device: D) -> DirectSink<D> {
        let buf = vec![0; ALIGN + CAPACITY];
        let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        DirectSink {
            device,
            buf,
            start,
            len: 0,
            written: 0,
            line_end: 0,
            direct: true,
        }
    }

    /// Write the first `n` waiting bytes and move the rest to the front of
    /// the window. On an error nothing waits any more, and the file is cut
    /// back to its last whole line.
    fn write_out(&mut self, n: usize) -> io::Result<()> {
        let chunk = &self.buf[self.start..self.start + n];
        let mut result = self.device.write_all(chunk);
        if self.direct
            && self.written == 0
            && result
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::InvalidInput)
        {
            // The file system opened the file for direct writes but takes
            // none: nothing was written, so write it the ordinary way.
            self.direct = false;
            result = self
                .device
                .buffered()
                .and_then(|()| self.device.write_all(chunk));
        }
        if let Err(e) = result {
            return Err(self.failed(e));
        }
        if let Some(last) = chunk.iter().rposition(|&b| b == b'\n') {
            self.line_end = self.written + last as u64 + 1;
        }
        self.written += n as u64;
        self.buf
            .copy_within(self.start + n..self.start + self.len, self.start);
        self.len -= n;
        Ok(())
    }

    /// After error `e`: nothing waits any more, and the file is cut back
    /// to its last whole line.
    fn failed(&mut self, e: io::Error) -> io::Error {
        self.len = 0;
        // Best effort: the error that matters is `e`.
        let _ = self.device.set_len(self.line_end);
        e
    }

    /// Write every whole block waiting.
    fn write_blocks(&mut self) -> io::Result<()> {
        let n = self.len / ALIGN * ALIGN;
        if n == 0 {
            return Ok(());
        }
        self.write_out(n)
    }
}

impl<D: Device> Write for DirectSink<D> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = (CAPACITY - self.len).min(rest.len());
            let at = self.start + self.len;
            self.buf[at..at + n].copy_from_slice(&rest[..n]);
            self.len += n;
            rest = &rest[n..];
            if self.len == CAPACITY {
                self.write_blocks()?;
            }
        }
        Ok(data.len())
    }

    /// Write everything waiting: whole blocks directly, then the tail
    /// (less than a block) with direct writes turned off. Only a finished
    /// stream flushes.
    fn flush(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.len == 0 {
            return Ok(());
        }
        if self.direct {
            self.direct = false;
            if let Err(e) = self.device.buffered() {
                return Err(self.failed(e));
            }
        }
        self.write_out(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device keeping what it was given, taking `room` bytes before it
    /// fails, and refusing direct writes if `refuses_direct`.
    #[derive(Default)]
    struct Disk {
        bytes: Vec<u8>,
        room: Option<usize>,
        refuses_direct: bool,
        direct: bool,
        /// Length of every write, and whether it was direct.
        writes: Vec<(usize, bool)>,
    }

    impl Disk {
        fn new() -> Disk {
            Disk {
                direct: true,
                ..Disk::default()
            }
        }
    }

    impl Device for Disk {
        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            if self.direct && self.refuses_direct {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            assert!(
                !self.direct || bytes.len().is_multiple_of(ALIGN),
                "a direct write of {} bytes",
                bytes.len()
            );
            self.writes.push((bytes.len(), self.direct));
            let take = self.room.map_or(bytes.len(), |r| r.min(bytes.len()));
            self.bytes.extend_from_slice(&bytes[..take]);
            if let Some(r) = self.room.as_mut() {
                *r -= take;
                if take < bytes.len() {
                    return Err(io::Error::from(io::ErrorKind::StorageFull));
                }
            }
            Ok(())
        }

        fn set_len(&mut self, len: u64) -> io::Result<()> {
            self.bytes.resize(len as usize, 0);
            Ok(())
        }

        fn buffered(&mut self) -> io::Result<()> {
            self.direct = false;
            Ok(())
        }
    }

    fn lines(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!("{{\"line\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)).into_bytes()
            })
            .collect()
    }

    fn written(stream: &[u8], piece: usize, disk: Disk) -> (DirectSink<Disk>, io::Result<()>) {
        let mut sink = DirectSink::new(disk);
        for chunk in stream.chunks(piece) {
            if let Err(e) = sink.write_all(chunk) {
                return (sink, Err(e));
            }
        }
        let result = sink.flush();
        (sink, result)
    }

    #[test]
    fn the_stream_arrives_whole_in_aligned_direct_writes_then_its_tail() {
        let stream = lines(40_000);
        assert!(stream.len() > 2 * CAPACITY && !stream.len().is_multiple_of(ALIGN));
        for piece in [1, 700, ALIGN, CAPACITY + 3, stream.len()] {
            let (sink, result) = written(&stream, piece, Disk::new());
            result.unwrap();
            let disk = sink.device;
            assert_eq!(disk.bytes, stream, "pieces of {piece}");
            let (last, rest) = disk.writes.split_last().unwrap();
            assert!(rest.iter().all(|&(n, direct)| direct && n % ALIGN == 0));
            assert_eq!(*last, (stream.len() % ALIGN, false), "the tail");
        }
    }

    #[test]
    fn the_window_is_aligned() {
        let sink = DirectSink::new(Disk::new());
        assert_eq!(sink.buf[sink.start..].as_ptr() as usize % ALIGN, 0);
        assert!(sink.buf.len() - sink.start >= CAPACITY);
    }

    #[test]
    fn a_failed_write_leaves_only_whole_lines() {
        let stream = lines(40_000);
        for room in [0, 100, ALIGN + 5, CAPACITY + 17, stream.len() - 10] {
            let disk = Disk {
                room: Some(room),
                ..Disk::new()
            };
            let (sink, result) = written(&stream, 5000, disk);
            assert!(result.is_err(), "room {room}");
            let kept = &sink.device.bytes;
            assert!(kept.len() <= room, "room {room}: {} kept", kept.len());
            assert!(kept.is_empty() || kept.ends_with(b"\n"), "room {room}");
            assert_eq!(&stream[..kept.len()], &kept[..], "room {room}");
        }
    }

    #[test]
    fn a_file_system_refusing_direct_writes_gets_ordinary_ones() {
        let stream = lines(20_000);
        let disk = Disk {
            refuses_direct: true,
            ..Disk::new()
        };
        let (sink, result) = written(&stream, 3000, disk);
        result.unwrap();
        assert_eq!(sink.device.bytes, stream);
        assert!(sink.device.writes.iter().all(|&(_, direct)| !direct));
    }

    #[test]
    fn a_real_file_holds_exactly_the_stream() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("events.ndjson");
        let stream = lines(30_000);
        // Where direct writes do not apply, the test has nothing to show.
        let Some(mut sink) = DirectSink::create(&path) else {
            return;
        };
        for chunk in stream.chunks(CAPACITY / 3 + 1) {
            sink.write_all(chunk).unwrap();
        }
        sink.flush().unwrap();
        drop(sink);
        assert_eq!(std::fs::read(&path).unwrap(), stream);
    }

    #[test]
    fn a_device_or_pipe_is_not_opened_for_direct_writes() {
        assert!(DirectSink::create(Path::new("/dev/null")).is_none());
    }
}
