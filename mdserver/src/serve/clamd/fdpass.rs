//! Descriptor passing for `FILDES`: a unix socket read with `recvmsg`, so
//! that a descriptor the client sends beside its bytes (`SCM_RIGHTS`, as
//! clamdscan `--fdpass` does) is kept until the command that asked for it
//! takes it. clamd reads its sockets the same way, whatever the command.
//!
//! Every read may carry descriptors; at most [`MAX_HELD`] are held per
//! connection (more are closed as they arrive), and all close with the
//! connection. TCP connections carry none ([`PassedFds`] for `TcpStream`).

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Descriptors held per connection, waiting for a `FILDES`.
const MAX_HELD: usize = 4;

/// A connection that may have received descriptors.
pub(super) trait PassedFds {
    /// The oldest descriptor received and not yet taken.
    fn take_fd(&mut self) -> Option<OwnedFd>;
    /// Whether descriptors can arrive on this connection at all.
    fn passes_fds(&self) -> bool;
}

impl PassedFds for TcpStream {
    fn take_fd(&mut self) -> Option<OwnedFd> {
        None
    }

    fn passes_fds(&self) -> bool {
        false
    }
}

/// A unix socket that keeps the descriptors passed to it.
#[derive(Debug)]
pub(super) struct FdStream {
    inner: UnixStream,
    held: VecDeque<OwnedFd>,
}

impl FdStream {
    pub(super) fn new(inner: UnixStream) -> FdStream {
        FdStream {
            inner,
            held: VecDeque::new(),
        }
    }
}

impl PassedFds for FdStream {
    fn take_fd(&mut self) -> Option<OwnedFd> {
        self.held.pop_front()
    }

    fn passes_fds(&self) -> bool {
        true
    }
}

/// One `recvmsg` into `buf`; the descriptors that came with the bytes go to
/// `held` (past [`MAX_HELD`], and any of a truncated message, closed).
fn receive(sock: &UnixStream, buf: &mut [u8], held: &mut VecDeque<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_HELD))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                if held.len() < MAX_HELD {
                    held.push_back(fd);
                }
            }
        }
    }
    Ok(got.bytes)
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let FdStream { inner, held } = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match inner.try_io(Interest::READABLE, || receive(inner, unfilled, held)) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
