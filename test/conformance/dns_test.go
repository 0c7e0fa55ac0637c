package conformance

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// testResolver answers DNS queries in-process from lookup: a cloud's load
// balancer names (an ALB's DNS name) resolve to the loopback address its
// test data plane serves them on. The suite's TLS, TCP and gRPC clients
// dial by name with net.Dialer and take no custom dialer, so this is how
// they reach the plane; the controller and the clouds' SDKs dial IPs and
// never ask it. Any other name is NXDOMAIN: a test's requests never leave
// the machine.
func testResolver(lookup func(name string) (netip.Addr, bool)) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, lookup)
			return client, nil
		},
	}
}

// serveDNS answers the queries on c, in DNS's stream framing (a net.Pipe is
// no PacketConn, so the resolver frames its messages as over TCP), until
// the resolver closes it.
func serveDNS(c net.Conn, lookup func(string) (netip.Addr, bool)) {
	defer c.Close()
	for {
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		query := make([]byte, n)
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		answer, err := answerDNS(query, lookup)
		if err != nil {
			return
		}
		if err := binary.Write(c, binary.BigEndian, uint16(len(answer))); err != nil {
			return
		}
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

func answerDNS(query []byte, lookup func(string) (netip.Addr, bool)) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	ip, known := lookup(strings.ToLower(strings.TrimSuffix(q.Name.String(), ".")))
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	// A known name has an A record and no AAAA: the planes listen on
	// IPv4 loopback.
	if known && q.Type == dnsmessage.TypeA && ip.Is4() {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1}
		if err := b.AResource(rr, dnsmessage.AResource{A: ip.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
