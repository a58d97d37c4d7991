package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
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

// chunkConn is a net.Conn whose reads return the input in chunks of a fixed size, so that
// frame headers and payloads are split at every possible place; the relay reads it with
// the portable loop (it is not a socket).
type chunkConn struct {
	net.Conn
	in    []byte
	chunk int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.in)
	c.in = c.in[n:]
	return n, nil
}

// relayBytes runs a relay over in (pre bytes first, then the rest read in chunks).
func relayBytes(in []byte, preLen, chunk int, limit int64) ([]byte, int64, error) {
	var out bytes.Buffer
	var n atomic.Int64
	preLen = min(preLen, len(in))
	r := relay{src: &chunkConn{in: in[preLen:], chunk: chunk}, pre: in[:preLen], dst: &out, cursor: frameCursor{limit: limit}, counter: &n}
	err := r.run()
	return out.Bytes(), n.Load(), err
}

func TestRelayForwardsUnchanged(t *testing.T) {
	tests := []struct {
		name   string
		frames [][]byte
		chunk  int
		pre    int
	}{
		{"small burst in one read", [][]byte{[]byte("a"), []byte("bc"), []byte("def"), nil}, 4096, 0},
		{"frame larger than the buffer", [][]byte{bytes.Repeat([]byte("x"), 70000), []byte("tail")}, 2048, 0},
		{"16-bit length, one byte per read", [][]byte{bytes.Repeat([]byte("y"), 300), []byte("z")}, 1, 0},
		{"64-bit length split everywhere", [][]byte{bytes.Repeat([]byte("w"), 70000), nil}, 3, 0},
		{"pre bytes end inside a header", [][]byte{[]byte("hello"), []byte("world")}, 5, 1},
		{"pre bytes hold frames and a part", [][]byte{[]byte("hello"), []byte("world")}, 7, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := wsFrames(t, tt.frames...)
			out, n, err := relayBytes(in, tt.pre, tt.chunk, 0)
			if err != io.EOF {
				t.Fatalf("err %v; want io.EOF at the end of the stream", err)
			}
			if !bytes.Equal(out, in) || n != int64(len(in)) {
				t.Errorf("relayed %d bytes (counted %d); want the %d input bytes unchanged", len(out), n, len(in))
			}
		})
	}
}

func TestRelayLimit(t *testing.T) {
	var fragmented bytes.Buffer
	fragmented.Write([]byte{0x02, 0x03}) // binary, not final, 3 bytes
	fragmented.WriteString("abc")
	fragmented.Write([]byte{0x80, 0x03}) // continuation, final, 3 bytes
	fragmented.WriteString("def")
	tests := []struct {
		name    string
		in      []byte
		limit   int64
		want    error
		relayed int // bytes forwarded before the relay stopped
	}{
		{"under", wsFrames(t, []byte("12345")), 5, io.EOF, 11},
		{"over", wsFrames(t, []byte("123456")), 5, errMessageTooBig, 0},
		{"fragments add up", fragmented.Bytes(), 5, errMessageTooBig, 5},
		{"fragments under", fragmented.Bytes(), 6, io.EOF, 10},
		{"control frames do not count", wsFrames(t, []byte("1"), []byte("2"), []byte(strings.Repeat("p", 100))), 5, io.EOF, 116},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 4096} {
			t.Run(fmt.Sprintf("%s/chunk %d", tt.name, chunk), func(t *testing.T) {
				out, _, err := relayBytes(tt.in, 0, chunk, tt.limit)
				if !errors.Is(err, tt.want) || len(out) != tt.relayed {
					t.Errorf("got %v after %d bytes; want %v after %d", err, len(out), tt.want, tt.relayed)
				}
			})
		}
	}
}

// relayModel is what a relay forwards of in under limit (0: none), written independently of
// frameCursor from RFC 6455 §5.2: the input unchanged up to its end, except the start of a
// frame header it ends in; or, at a data frame that takes its message (a data frame and its
// continuations; control frames do not count) over limit, the bytes before that frame and
// errMessageTooBig.
func relayModel(in []byte, limit int64) (int, error) {
	var message int64
	for i := 0; i < len(in); {
		if len(in)-i < 2 {
			return i, io.EOF
		}
		op, b1 := in[i]&0x0f, in[i+1]
		head, plen := 2, uint64(b1&0x7f)
		switch plen {
		case 126:
			head += 2
		case 127:
			head += 8
		}
		if b1&0x80 != 0 {
			head += 4 // the mask key
		}
		if len(in)-i < head {
			return i, io.EOF
		}
		switch plen {
		case 126:
			plen = uint64(binary.BigEndian.Uint16(in[i+2:]))
		case 127:
			plen = binary.BigEndian.Uint64(in[i+2:]) &^ (1 << 63) // the most significant bit must be 0
		}
		if op < 8 {
			if op != 0 {
				message = 0
			}
			message += int64(plen)
			if limit > 0 && message > limit {
				return i, errMessageTooBig
			}
		}
		i += head
		if uint64(len(in)-i) <= plen {
			return len(in), io.EOF
		}
		i += int(plen)
	}
	return len(in), io.EOF
}

// FuzzRelay: whatever bytes arrive, split however between the bytes that came with the
// handshake and reads of any size, the relay forwards exactly what relayModel says, counts
// it, and ends as it says.
func FuzzRelay(f *testing.F) {
	f.Add(wsFrames(f, []byte("a"), []byte("bc")), 16, 3, uint32(0))
	f.Add(wsFrames(f, []byte("a"), []byte("bc"), []byte("def")), 1, 0, uint32(2))
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 64, 0, uint32(0))
	f.Add([]byte{0x82, 0xfe, 0x01}, 4096, 1, uint32(100))
	f.Add([]byte{0x02, 0x03, 'a', 'b', 'c', 0x89, 0x00, 0x80, 0x03, 'd', 'e', 'f'}, 2, 5, uint32(5))
	f.Fuzz(func(t *testing.T, in []byte, chunk, pre int, limit uint32) {
		if chunk < 1 || chunk > 1<<16 || pre < 0 {
			return
		}
		out, n, err := relayBytes(in, pre, chunk, int64(limit))
		want, wantErr := relayModel(in, int64(limit))
		if !bytes.Equal(out, in[:want]) || n != int64(len(out)) || !errors.Is(err, wantErr) {
			t.Fatalf("limit %d: relayed %d bytes (counted %d), then %v; want the first %d input bytes, then %v",
				limit, len(out), n, err, want, wantErr)
		}
	})
}

// BenchmarkRelayForwardSmall is the per-message work of a tunnel besides its two syscalls.
func BenchmarkRelayForwardSmall(b *testing.B) {
	in := wsFrames(b, bytes.Repeat([]byte("m"), 1024))
	var n atomic.Int64
	r := relay{dst: io.Discard, counter: &n}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		if err := r.forward(in); err != nil {
			b.Fatal(err)
		}
	}
}
