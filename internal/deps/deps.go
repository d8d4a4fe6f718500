// Package deps pins imports until real code uses them.
package deps

import (
	_ "github.com/open-policy-agent/opa/v1/ast"
	_ "github.com/open-policy-agent/opa/v1/bundle"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/open-policy-agent/opa/v1/tester"
	_ "github.com/open-policy-agent/opa/v1/storage/inmem"
	_ "github.com/tuneinsight/lattigo/v5/core/rlwe"
	_ "github.com/tuneinsight/lattigo/v5/he/heint"
	_ "github.com/tuneinsight/lattigo/v5/mhe"
	_ "github.com/tuneinsight/lattigo/v5/ring"
	_ "github.com/tuneinsight/lattigo/v5/utils/sampling"
	_ "github.com/tuneinsight/lattigo/v5/utils/structs"
	_ "github.com/tuneinsight/lattigo/v5/utils/buffer"
	_ "golang.org/x/crypto/scrypt"
	_ "golang.org/x/crypto/hkdf"
	_ "golang.org/x/sync/errgroup"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/peer"
	_ "google.golang.org/grpc/status"
	_ "google.golang.org/protobuf/proto"
	_ "gopkg.in/yaml.v3"
)
