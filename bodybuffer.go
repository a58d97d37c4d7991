// bodybuffer.go owns request-body buffering (gateway_request_buffering, on by default): a
// request body is read whole from the client — into memory up to 1 MiB, into an unlinked
// file beyond — before the upstream is dialled, as nginx's proxy_request_buffering does. A
// slow upload then holds a client connection and a file, never an upstream connection or one
// of the application's workers, and reaches it at local speed. Both engines use it.
//
// Bounded: at most spoolMemTotal of memory and gateway_request_buffer_max_bytes of files
// wait at once. A body that does not fit, or finds no writable gateway_request_buffer_dir (a
// scratch container has no /tmp), is streamed to the upstream as it arrives instead, as with
// buffering off: it still succeeds, it only holds an upstream connection meanwhile.

package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// spoolMemMax: a body up to 1 MiB waits in memory. The large-body copy buffer is 1 MiB
	// too (socket_linux.go), so a buffered 1 MiB POST costs what a streamed one did.
	spoolMemMax = 1 << 20
	// spoolSmallMax: a body up to 64 KiB gets memory of its own length; a larger one (or one
	// of unknown length) a pooled 1 MiB buffer, counted whole.
	spoolSmallMax = 64 << 10
	// spoolMemTotal bounds the memory of all bodies waiting at once: 64 of them at 1 MiB.
	// Past it, bodies wait in files.
	spoolMemTotal = 64 << 20
	// spoolWarnEvery spaces the warnings that a body could not be buffered.
	spoolWarnEvery = time.Minute
)

var spoolPool = sync.Pool{New: func() any { b := make([]byte, spoolMemMax); return &b }}

// errSpoolWrite is a buffer file that could not be written (a full disk): 500, the body is
// lost.
var errSpoolWrite = errors.New("cannot buffer the request body")

// bodySpooler buffers request bodies; nil when gateway_request_buffering is off.
type bodySpooler struct {
	dir      string
	diskMax  int64
	log      *slog.Logger
	mem      atomic.Int64 // memory held by waiting bodies
	disk     atomic.Int64 // file bytes reserved by waiting bodies
	lastWarn atomic.Int64
}

// newBodySpooler checks once that dir takes files, and says at start when it does not.
func newBodySpooler(cfg *Config, log *slog.Logger) *bodySpooler {
	if !cfg.RequestBuffering {
		return nil
	}
	s := &bodySpooler{dir: cfg.RequestBufferDir, diskMax: cfg.RequestBufferMax, log: log}
	if s.dir == "" {
		s.dir = os.TempDir()
	}
	if f, err := s.createFile(); err != nil {
		log.Warn("request bodies over 1 MiB will be streamed to the upstream, not buffered: "+err.Error(),
			"gateway_request_buffer_dir", s.dir)
	} else {
		f.Close()
	}
	return s
}

// createFile makes an unlinked file in dir: nothing is left behind, even by kill -9.
func (s *bodySpooler) createFile() (*os.File, error) {
	f, err := os.CreateTemp(s.dir, "fluxlit-body-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create a file in %s: %v", s.dir, errText(err))
	}
	os.Remove(f.Name())
	return f, nil
}

func (s *bodySpooler) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last >= int64(spoolWarnEvery) && s.lastWarn.CompareAndSwap(last, now) {
		s.log.Warn(msg, args...)
	}
}

// spooledBody is a body read whole (or its first part, when the rest did not fit): the first
// up to 1 MiB in memory, the rest in a file.
type spooledBody struct {
	s        *bodySpooler
	buf      *[]byte // pooled; mem is its first bytes
	mem      []byte
	file     *os.File
	size     int64 // bytes held
	disk     int64 // file bytes reserved
	memTaken int64
	off      int64 // Read's position
}

// spool reads src into a spooledBody. declared is the body's length, -1 when unknown. It
// returns nil (nothing read) when a declared body fits neither memory nor a file: stream it.
// complete false means src holds the rest of the body, to be sent after what was read. An
// error from src (the client left, or was too slow) is returned as it came, with the
// partial body released.
func (s *bodySpooler) spool(src io.Reader, declared int64) (b *spooledBody, complete bool, err error) {
	b = &spooledBody{s: s}
	needFile := false
	switch {
	case declared >= 0 && declared <= spoolMemMax && b.takeMem(spoolMemFor(declared)):
	case declared < 0 && b.takeMem(spoolMemMax):
	case declared < 0: // memory is full: a file, reserved as it grows
		needFile = true
	default: // over 1 MiB, or memory is full: a file, if it fits
		if !b.takeDisk(declared) {
			return nil, false, nil
		}
		needFile = true
	}
	if needFile {
		if b.file, err = s.createFile(); err != nil {
			s.warn("request body streamed, not buffered: "+err.Error(), "gateway_request_buffer_dir", s.dir)
			b.release()
			return nil, false, nil
		}
	}
	complete, err = b.fill(src, declared)
	if err != nil {
		b.release()
		return nil, false, err
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		b.release()
		return nil, false, err
	}
	return b, complete, nil
}

// spoolMemFor is the memory a body of declared length holds while it waits, as takeMem
// counts it: what it is given, not what it declares (a slow client that declares 100 bytes
// must not hold a 1 MiB buffer counted as 100).
func spoolMemFor(declared int64) int64 {
	if declared >= 0 && declared <= spoolSmallMax {
		return declared
	}
	return spoolMemMax
}

// fill reads src: declared bytes, or to its end when declared < 0, as far as the reservations
// reach. complete reports that the whole body was read.
func (b *spooledBody) fill(src io.Reader, declared int64) (complete bool, err error) {
	if b.memTaken > 0 {
		want := int64(spoolMemMax)
		if declared >= 0 {
			want = declared
		}
		var room []byte
		if b.memTaken == spoolMemMax {
			b.buf = spoolPool.Get().(*[]byte)
			room = (*b.buf)[:want]
		} else {
			room = make([]byte, want)
		}
		n, err := io.ReadFull(src, room)
		b.mem, b.size = room[:n], int64(n)
		switch {
		case declared >= 0 && int64(n) == declared:
			return true, nil
		case declared < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			return true, nil // a body of unknown length ends where src does
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			return false, io.ErrUnexpectedEOF
		case err != nil:
			return false, err
		}
		// Unknown length, memory full: on to a file, a MiB reserved at a time.
		if b.file, err = b.s.createFile(); err != nil {
			b.s.warn("request body partly streamed, not buffered: "+err.Error(), "gateway_request_buffer_dir", b.s.dir)
			return false, nil
		}
	}
	for declared < 0 || b.size < declared {
		want := int64(spoolMemMax)
		if declared >= 0 {
			want = declared - b.size
		} else if !b.takeDisk(want) {
			return false, nil // the rest streams
		}
		n, err := io.Copy(spoolFileWriter{b}, io.LimitReader(src, want))
		switch {
		case err != nil:
			return false, err
		case declared < 0 && n < want:
			return true, nil
		case declared >= 0 && n < want:
			return false, io.ErrUnexpectedEOF
		}
	}
	return true, nil
}

// spoolFileWriter appends to the body's file; a failed write is errSpoolWrite.
type spoolFileWriter struct{ b *spooledBody }

func (w spoolFileWriter) Write(p []byte) (int, error) {
	n, err := w.b.file.Write(p)
	w.b.size += int64(n)
	if err != nil {
		w.b.s.log.Error("cannot buffer a request body", "gateway_request_buffer_dir", w.b.s.dir, "error", err.Error())
		return n, errSpoolWrite
	}
	return n, nil
}

func (b *spooledBody) takeMem(n int64) bool {
	if b.s.mem.Add(n) > spoolMemTotal {
		b.s.mem.Add(-n)
		return false
	}
	b.memTaken += n
	return true
}

func (b *spooledBody) takeDisk(n int64) bool {
	if b.s.disk.Add(n) > b.s.diskMax {
		b.s.disk.Add(-n)
		return false
	}
	b.disk += n
	return true
}

// Read reads the body from its start (after spool): memory, then the file.
func (b *spooledBody) Read(p []byte) (int, error) {
	if b.off < int64(len(b.mem)) {
		n := copy(p, b.mem[b.off:])
		b.off += int64(n)
		return n, nil
	}
	if b.file == nil || b.off >= b.size {
		return 0, io.EOF
	}
	n, err := b.file.Read(p)
	b.off += int64(n)
	if err == io.EOF && b.off < b.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// WriteTo writes the body to w (an upstream's buffered writer, whose socket has the send
// limit): the memory part in one write, the file through a pooled buffer.
func (b *spooledBody) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b.mem)
	if err != nil || b.file == nil {
		return int64(n), err
	}
	bp := spoolPool.Get().(*[]byte)
	defer spoolPool.Put(bp)
	m, err := io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(b.file, b.size-int64(len(b.mem))), *bp)
	return int64(n) + m, err
}

// Seek is for rewinding only (a retried request is sent again from the start).
func (b *spooledBody) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, errors.New("spooledBody: only rewinds")
	}
	b.off = 0
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Close releases the memory, the file and the reservations.
func (b *spooledBody) Close() error {
	b.release()
	return nil
}

func (b *spooledBody) release() {
	if b.buf != nil {
		spoolPool.Put(b.buf)
	}
	b.buf, b.mem = nil, nil
	if b.memTaken > 0 {
		b.s.mem.Add(-b.memTaken)
		b.memTaken = 0
	}
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	if b.disk > 0 {
		b.s.disk.Add(-b.disk)
		b.disk = 0
	}
}
