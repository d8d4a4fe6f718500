package pki

import (
	"context"
	"fmt"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerIdentity returns the identity of the peer of the gRPC call in ctx, as
// taken from its verified certificate chain. Use it in server handlers and
// interceptors of a server built with ServerTLSConfig.
func PeerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, fmt.Errorf("%w: no peer in context", ErrNoIdentity)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return Identity{}, fmt.Errorf("%w: connection from %v is not TLS", ErrNoIdentity, p.Addr)
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return Identity{}, fmt.Errorf("%w: peer %v has no verified certificate", ErrNoIdentity, p.Addr)
	}
	return IdentityFromCert(chains[0][0])
}
