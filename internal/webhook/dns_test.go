package webhook_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// fakeDNS is a DNS server for the tests, answering A and AAAA questions
// from a table that a test may change between lookups (to play DNS
// rebinding). Unknown names get NXDOMAIN. It serves the stream connections
// that the Go resolver opens through Resolver.Dial, so no socket and no
// real DNS is involved.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string][]netip.Addr // guarded by mu; lowercase, no final dot
}

func newFakeDNS(names map[string][]string) *fakeDNS {
	z := &fakeDNS{names: map[string][]netip.Addr{}}
	for name, addrs := range names {
		z.set(name, addrs...)
	}
	return z
}

// set replaces the addresses of name.
func (z *fakeDNS) set(name string, addrs ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.names[name] = nil
	for _, a := range addrs {
		z.names[name] = append(z.names[name], netip.MustParseAddr(a))
	}
}

func (z *fakeDNS) lookup(name string) ([]netip.Addr, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	addrs, ok := z.names[name]
	return addrs, ok
}

// resolver returns a pure-Go resolver that asks only z.
func (z *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go z.serve(server)
			return client, nil
		},
	}
}

// serve answers length-prefixed queries on c until the resolver closes it.
// net.Pipe is not a PacketConn, so the resolver frames messages as over TCP.
func (z *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	for {
		var size [2]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		query := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		answer := z.answer(query)
		framed := binary.BigEndian.AppendUint16(nil, uint16(len(answer)))
		if _, err := c.Write(append(framed, answer...)); err != nil {
			return
		}
	}
}

// answer builds the response to one query: its header and question echoed,
// then one record per address of the asked family.
func (z *fakeDNS) answer(query []byte) []byte {
	name, end := questionName(query)
	if end+4 > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[end:])
	addrs, known := z.lookup(name)

	var records []byte
	count := 0
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			records = appendRecord(records, qtype, a)
			count++
		}
	}

	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	msg := append([]byte{}, query[:2]...) // id
	msg = binary.BigEndian.AppendUint16(msg, flags)
	msg = binary.BigEndian.AppendUint16(msg, 1) // questions
	msg = binary.BigEndian.AppendUint16(msg, uint16(count))
	msg = append(msg, 0, 0, 0, 0) // no authority or additional records
	msg = append(msg, query[12:end+4]...)
	return append(msg, records...)
}

// questionName reads the name of a query's question, which starts after the
// 12-byte header, and returns it with the offset of the question's type.
func questionName(query []byte) (string, int) {
	var labels []string
	i := 12
	for i < len(query) && query[i] != 0 {
		n := int(query[i])
		if i+1+n > len(query) {
			return "", len(query)
		}
		labels = append(labels, string(query[i+1:i+1+n]))
		i += 1 + n
	}
	return strings.ToLower(strings.Join(labels, ".")), i + 1
}

// appendRecord appends an A or AAAA record for the question's name.
func appendRecord(b []byte, qtype uint16, a netip.Addr) []byte {
	b = append(b, 0xc0, 12) // pointer to the question's name
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)  // class IN
	b = binary.BigEndian.AppendUint32(b, 60) // TTL
	data := a.AsSlice()
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}
