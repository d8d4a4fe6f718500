package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkQuery measures one joint query end to end (sign, fan-out,
// admission, aggregation, encryption, transfer, homomorphic sum, verified
// key switch, decryption) on a loopback federation, per partner count.
func BenchmarkQuery(b *testing.B) {
	for _, n := range []int{3, 5} {
		b.Run(fmt.Sprintf("partners=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("partner-%d", i)
			}
			partners, err := GeneratePartners(names, 20000, 1)
			if err != nil {
				b.Fatal(err)
			}
			fed, err := Start(ctx, Config{Partners: partners})
			if err != nil {
				b.Fatal(err)
			}
			defer fed.Close()
			spec, err := DefaultQuery()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := fed.Query(ctx, spec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
