package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// static holds the page: HTML, CSS, JavaScript modules and the vendored
// ECharts build (static/vendor, written by scripts/console-assets.sh).
//
//go:embed static
var static embed.FS

func staticHandler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	return http.FileServerFS(sub)
}
