package source

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

// TestOpenFiles opens file URLs: CSV in memory, Parquet streamed or, on
// request, in memory.
func TestOpenFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "records.csv")
	if err := os.WriteFile(csvPath, []byte("age,region\n31,east\n45,south\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{31, 45})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	pqPath := filepath.Join(dir, "records.parquet")
	writeParquet(t, pqPath, tab)
	tests := []struct {
		url      string
		inMemory bool
		want     string
	}{
		{"file://" + csvPath, false, "*source.Memory"},
		{"file://localhost" + csvPath, false, "*source.Memory"},
		{"file://" + pqPath, false, "*source.Parquet"},
		{"file://" + pqPath, true, "*source.Memory"},
	}
	for _, tt := range tests {
		src, err := Open(ctx, tt.url, OpenOptions{InMemory: tt.inMemory})
		if err != nil {
			t.Fatalf("Open(%s): %v", tt.url, err)
		}
		if got := typeName(src); got != tt.want {
			t.Errorf("Open(%s, in memory %v) = %s, want %s", tt.url, tt.inMemory, got, tt.want)
		}
		if fields, _ := src.Schema(ctx); len(fields) == 0 || fields[0].Name != "age" {
			t.Errorf("Open(%s): schema %v", tt.url, fields)
		}
		src.Close()
	}
	for _, bad := range []string{"file://elsewhere/records.csv", "file://" + filepath.Join(dir, "none.csv"), "hdfs://nn/records", "://"} {
		if src, err := Open(ctx, bad, OpenOptions{}); err == nil {
			src.Close()
			t.Errorf("Open(%s) succeeded", bad)
		}
	}
	if _, err := Open(ctx, "s3://bucket/records.parquet", OpenOptions{}); !errors.Is(err, ErrUnsupportedSource) {
		t.Errorf("s3 URL: %v, want ErrUnsupportedSource", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *Memory:
		return "*source.Memory"
	case *Parquet:
		return "*source.Parquet"
	case *Postgres:
		return "*source.Postgres"
	case *MySQL:
		return "*source.MySQL"
	}
	return "?"
}

// TestOpenDatabases opens every test server from its URL, with the table
// as a parameter or an option and the password from the options, and
// checks that no error shows a password.
func TestOpenDatabases(t *testing.T) {
	ctx := context.Background()
	urls := map[Engine]func(testing.TB) string{EnginePostgres: pgDSN, EngineMariaDB: mysqlURL}
	forEachServer(t, func(t *testing.T, srv *testServer) {
		b := dataset.NewBuilder()
		b.AddNumber("age", []float64{31, 45})
		b.AddCategory("region", []string{"east", "south"})
		tab, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		srv.load(t, "open_records", tab)
		u, err := url.Parse(urls[srv.engine](t))
		if err != nil {
			t.Fatal(err)
		}
		password, _ := u.User.Password()
		wrong := *u
		wrong.User = url.UserPassword(u.User.Username(), "not-the-password")
		withTable := func(v url.URL, table string) string {
			q := v.Query()
			q.Set("table", table)
			v.RawQuery = q.Encode()
			return v.String()
		}
		want := map[Engine]string{EnginePostgres: "*source.Postgres", EngineMariaDB: "*source.MySQL"}[srv.engine]
		for _, tt := range []struct {
			name string
			url  string
			o    OpenOptions
		}{
			{"table parameter", withTable(*u, "open_records"), OpenOptions{}},
			{"table option", u.String(), OpenOptions{Table: "open_records"}},
			{"engine parameter", withTable(*u, "open_records") + map[Engine]string{EnginePostgres: "", EngineMariaDB: "&engine=mariadb"}[srv.engine], OpenOptions{}},
			{"password option", withTable(wrong, "open_records"), OpenOptions{Password: password}},
		} {
			src, err := Open(ctx, tt.url, tt.o)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if typeName(src) != want || strings.Contains(src.Name(), password) {
				t.Errorf("%s: %s named %q", tt.name, typeName(src), src.Name())
			}
			src.Close()
		}
		for _, tt := range []struct {
			name string
			url  string
			want error
		}{
			{"wrong password", withTable(wrong, "open_records"), ErrUnavailable},
			{"no table", u.String(), ErrInvalidIdentifier},
			{"missing table", withTable(*u, "no_such_table"), ErrUnknownTable},
		} {
			if srv.engine == EngineMariaDB && tt.name == "no table" {
				if _, err := Open(ctx, withTable(*u, "open_records")+"&engine=oracle", OpenOptions{}); err == nil || !strings.Contains(err.Error(), `"oracle"`) {
					t.Errorf("unknown engine: %v", err)
				}
			}
			src, err := Open(ctx, tt.url, OpenOptions{})
			if err == nil {
				src.Close()
				t.Fatalf("%s: no error", tt.name)
			}
			if !errors.Is(err, tt.want) || strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("%s: %v, want %v without a password", tt.name, err, tt.want)
			}
		}
	})
}
