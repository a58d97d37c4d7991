package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

func wsFrames(t testing.TB, frames ...[]byte) []byte {
	var b bytes.Buffer
	for i, p := range frames {
		op := byte(2)
		if i%3 == 2 {
			op = 9 // a ping between data frames
		}
		testWriteFrame(&b, op, p, i%2 == 0)
	}
	return b.Bytes()
}

func TestCopyFramesRelaysUnchanged(t *testing.T) {
	tests := []struct {
		name    string
		frames  [][]byte
		bufSize int
	}{
		{"small burst", [][]byte{[]byte("a"), []byte("bc"), []byte("def"), nil}, 4096},
		{"frame larger than the buffer", [][]byte{bytes.Repeat([]byte("x"), 70000), []byte("tail")}, 4096},
		{"16-bit length", [][]byte{bytes.Repeat([]byte("y"), 300)}, 64},
		{"tiny buffer", [][]byte{[]byte("hello"), []byte("world")}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := wsFrames(t, tt.frames...)
			var out bytes.Buffer
			var n atomic.Int64
			err := copyFrames(&out, bufio.NewReaderSize(bytes.NewReader(in), tt.bufSize), 0, &n, nil)
			if err != io.EOF {
				t.Fatalf("err %v; want io.EOF at the end of the stream", err)
			}
			if !bytes.Equal(out.Bytes(), in) || n.Load() != int64(len(in)) {
				t.Errorf("relayed %d bytes (counted %d); want the %d input bytes unchanged", out.Len(), n.Load(), len(in))
			}
		})
	}
}

func TestCopyFramesLimit(t *testing.T) {
	var fragmented bytes.Buffer
	fragmented.Write([]byte{0x02, 0x03}) // binary, not final, 3 bytes
	fragmented.WriteString("abc")
	fragmented.Write([]byte{0x80, 0x03}) // continuation, final, 3 bytes
	fragmented.WriteString("def")
	tests := []struct {
		name  string
		in    []byte
		limit int64
		want  error
	}{
		{"under", wsFrames(t, []byte("12345")), 5, io.EOF},
		{"over", wsFrames(t, []byte("123456")), 5, errMessageTooBig},
		{"fragments add up", fragmented.Bytes(), 5, errMessageTooBig},
		{"fragments under", fragmented.Bytes(), 6, io.EOF},
		{"control frames do not count", wsFrames(t, []byte("1"), []byte("2"), []byte(strings.Repeat("p", 100))), 5, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			err := copyFrames(io.Discard, bufio.NewReader(bytes.NewReader(tt.in)), tt.limit, &n, nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v; want %v", err, tt.want)
			}
		})
	}
}

// FuzzCopyFrames: whatever bytes arrive, the relay never panics and never writes anything
// that is not a prefix of its input.
func FuzzCopyFrames(f *testing.F) {
	f.Add(wsFrames(f, []byte("a"), []byte("bc")), 16)
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 64)
	f.Add([]byte{0x82, 0xfe, 0x01}, 4096)
	f.Fuzz(func(t *testing.T, in []byte, size int) {
		if size < 16 || size > 1<<16 {
			return
		}
		var out bytes.Buffer
		var n atomic.Int64
		copyFrames(&out, bufio.NewReaderSize(bytes.NewReader(in), size), 1<<20, &n, nil)
		if !bytes.HasPrefix(in, out.Bytes()) {
			t.Fatalf("relayed bytes are not a prefix of the input")
		}
	})
}

func BenchmarkCopyFramesSmall(b *testing.B) {
	in := wsFrames(b, bytes.Repeat([]byte("m"), 1024))
	var n atomic.Int64
	r := bytes.NewReader(in)
	br := bufio.NewReaderSize(r, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		r.Reset(in)
		br.Reset(r)
		copyFrames(io.Discard, br, 0, &n, nil)
	}
}
