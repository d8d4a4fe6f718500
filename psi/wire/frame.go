package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Format constants and limits.
const (
	Version    = 1
	HeaderSize = 48
	// MaxPayload bounds one frame's payload.
	MaxPayload = 1 << 20
	// MaxBatch bounds the elements of one batch frame.
	MaxBatch = 8192
	// MaxParties bounds the parties of a session (party sets are 16-bit
	// masks).
	MaxParties = 16
	// MaxTotal bounds the length of one list.
	MaxTotal = 1 << 34
	// Broadcast is the "to" of hello and abort frames.
	Broadcast = 0xFF
	// ElementSize is the length of an encoded group element.
	ElementSize = 32
	// MaxReason bounds an abort's reason code.
	MaxReason = 128
	// sealOverhead is the AES-GCM tag.
	sealOverhead = 16
	// ResultList is the list id of result and released frames.
	ResultList = 0xFFFF
	// DigestSize is the length of a released frame's digest.
	DigestSize = 32
)

var magic = [4]byte{'F', 'P', 'S', 'I'}

// ErrMalformed marks every decoding error.
var ErrMalformed = errors.New("malformed PSI frame")

// Type is a frame type.
type Type uint8

// Frame types.
const (
	Hello     Type = 1
	ListStart Type = 2
	Batch     Type = 3
	ListEnd   Type = 4
	Result    Type = 5
	Abort     Type = 6
	// Released ends a session whose release goes elsewhere (Config's
	// PrivateRelease): it carries only the digest of what the comparer
	// released.
	Released Type = 7
)

func (t Type) String() string {
	switch t {
	case Hello:
		return "hello"
	case ListStart:
		return "list-start"
	case Batch:
		return "batch"
	case ListEnd:
		return "list-end"
	case Result:
		return "result"
	case Abort:
		return "abort"
	case Released:
		return "released"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// SessionID identifies one query's PSI run.
type SessionID [16]byte

// Frame is one protocol message.
type Frame struct {
	Type     Type
	From, To uint8
	Session  SessionID
	List     uint16
	Hop      uint8
	Seq      uint32
	Count    uint32
	Total    uint64
	Payload  []byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// header encodes the header of f for a payload of n bytes.
func (f *Frame) header(n int) [HeaderSize]byte {
	var h [HeaderSize]byte
	copy(h[:4], magic[:])
	h[4] = Version
	h[5] = byte(f.Type)
	h[6] = f.From
	h[7] = f.To
	copy(h[8:24], f.Session[:])
	binary.BigEndian.PutUint16(h[24:], f.List)
	h[26] = f.Hop
	binary.BigEndian.PutUint32(h[28:], f.Seq)
	binary.BigEndian.PutUint32(h[32:], f.Count)
	binary.BigEndian.PutUint64(h[36:], f.Total)
	binary.BigEndian.PutUint32(h[44:], uint32(n))
	return h
}

// Append appends the encoding of f to dst.
func (f *Frame) Append(dst []byte) []byte {
	h := f.header(len(f.Payload))
	return append(append(dst, h[:]...), f.Payload...)
}

// Encode returns the encoding of f.
func (f *Frame) Encode() []byte { return f.Append(make([]byte, 0, HeaderSize+len(f.Payload))) }

// parseHeader decodes and checks a header; it returns the payload length.
func parseHeader(h []byte, f *Frame) (int, error) {
	if len(h) < HeaderSize {
		return 0, malformed("%d bytes, shorter than the header", len(h))
	}
	if [4]byte(h[:4]) != magic {
		return 0, malformed("bad magic")
	}
	if h[4] != Version {
		return 0, malformed("version %d, want %d", h[4], Version)
	}
	if h[27] != 0 {
		return 0, malformed("reserved byte set")
	}
	*f = Frame{
		Type:    Type(h[5]),
		From:    h[6],
		To:      h[7],
		Session: SessionID(h[8:24]),
		List:    binary.BigEndian.Uint16(h[24:]),
		Hop:     h[26],
		Seq:     binary.BigEndian.Uint32(h[28:]),
		Count:   binary.BigEndian.Uint32(h[32:]),
		Total:   binary.BigEndian.Uint64(h[36:]),
	}
	n := binary.BigEndian.Uint32(h[44:])
	if n > MaxPayload {
		return 0, malformed("payload of %d bytes exceeds %d", n, MaxPayload)
	}
	if err := f.checkFields(int(n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// checkFields checks the header fields against the type and the payload
// length n.
func (f *Frame) checkFields(n int) error {
	if f.From >= MaxParties || (f.To >= MaxParties && f.To != Broadcast) {
		return malformed("party index out of range")
	}
	if f.From == f.To {
		return malformed("frame addressed to its sender")
	}
	broadcast := f.To == Broadcast
	want := -1 // exact payload length, or -1
	switch f.Type {
	case Hello:
		want = ElementSize
		if !broadcast || f.List != 0 || f.Hop != 0 || f.Seq != 0 || f.Count != 0 || f.Total != 0 {
			return malformed("hello with list fields or a recipient")
		}
	case Abort:
		if !broadcast || n > MaxReason {
			return malformed("abort not broadcast or reason too long")
		}
	case ListStart, ListEnd:
		want = sealOverhead + 33
		if f.Type == ListEnd {
			want = sealOverhead + 32
		}
		if broadcast || f.List == ResultList || f.Hop == 0 || int(f.Hop) > MaxParties || f.Seq != 0 || f.Count != 0 || f.Total > MaxTotal {
			return malformed("%v fields out of range", f.Type)
		}
	case Batch:
		if broadcast || f.List == ResultList || f.Hop == 0 || int(f.Hop) > MaxParties || f.Total != 0 || f.Count == 0 || f.Count > MaxBatch {
			return malformed("batch fields out of range")
		}
		want = sealOverhead + int(f.Count)*ElementSize
	case Result, Released:
		if broadcast || f.List != ResultList || f.Hop != 0 || f.Seq != 0 || f.Count != 0 || f.Total != 0 || n < sealOverhead {
			return malformed("%v fields out of range", f.Type)
		}
		if f.Type == Released {
			want = sealOverhead + DigestSize
		}
	default:
		return malformed("unknown type %d", uint8(f.Type))
	}
	if want >= 0 && n != want {
		return malformed("%v payload of %d bytes, want %d", f.Type, n, want)
	}
	return nil
}

// Decode parses one whole frame. The payload aliases b.
func Decode(b []byte) (*Frame, error) {
	f := new(Frame)
	n, err := parseHeader(b, f)
	if err != nil {
		return nil, err
	}
	if len(b) != HeaderSize+n {
		return nil, malformed("%d bytes, header says %d", len(b), HeaderSize+n)
	}
	f.Payload = b[HeaderSize:]
	return f, nil
}

// ReadFrame reads one frame from r, allocating at most MaxPayload for it.
// It returns io.EOF only if r ends before the first header byte.
func ReadFrame(r io.Reader) (*Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, malformed("truncated header")
		}
		return nil, err
	}
	f := new(Frame)
	n, err := parseHeader(h[:], f)
	if err != nil {
		return nil, err
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return nil, malformed("truncated payload: %v", err)
	}
	return f, nil
}

// WriteFrame writes the encoding of f to w.
func WriteFrame(w io.Writer, f *Frame) error {
	h := f.header(len(f.Payload))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(f.Payload)
	return err
}
