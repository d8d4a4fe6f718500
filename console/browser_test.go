package console_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// chromium finds Debian's chromium. CI sets FEDSCORE_BROWSER_TESTS=1 and
// installs it, so there a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FEDSCORE_BROWSER_TESTS") == "1" {
		t.Fatal("FEDSCORE_BROWSER_TESTS=1 but no chromium on PATH: apt-get install chromium (scripts/browser-deps.sh)")
	}
	t.Skip("no chromium on PATH; CI installs it (scripts/browser-deps.sh) and sets FEDSCORE_BROWSER_TESTS=1")
	return ""
}

// screenshotDir is where the page's screenshots go: FEDSCORE_SCREENSHOT_DIR
// (docs/console when refreshing the documentation) or the test's artifacts.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("FEDSCORE_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// browser starts headless chromium with the flags a machine without network
// needs and a fresh profile.
func browser(t *testing.T, ctx context.Context) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel2)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

type page struct {
	t   *testing.T
	ctx context.Context
	dir string
}

type step = chromedp.Action[chromedp.Void]

func (p *page) run(what string, steps ...step) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that returns a value.
func value[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (p *page) shot(name string) {
	p.t.Helper()
	p.run("settle", chromedp.Sleep(400*time.Millisecond))
	png := value(p, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(p.dir, name), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	p.run("wait for "+sel, visible(sel))
	return value(p, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func visible(sel string) step { return chromedp.WaitVisible(chromedp.CSS(sel)) }
func click(sel string) step   { return chromedp.Click(chromedp.CSS(sel)) }

// setField sets a form field and fires its change event, as a person
// choosing an option or leaving a field does.
func setField(sel, v string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('change')); return true; })()`, sel, v))(ctx, t)
		return err
	})
}

// rawCells formats a result as the page's data-raw attributes hold it.
func rawCells(r *query.Result) [][]string {
	out := make([][]string, len(r.Rows))
	for i, row := range r.Rows {
		for _, v := range row.Values {
			s := ""
			switch x := v.(type) {
			case string:
				s = x
			case int64:
				s = strconv.FormatInt(x, 10)
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			}
			out[i] = append(out[i], s)
		}
	}
	return out
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// sandbox federation: the three jobs of the analyst, the regulator and the
// operator, in both languages.
func TestConsoleInBrowser(t *testing.T) {
	chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	partners, err := sandbox.GeneratePartners(sandbox.DefaultPartnerNames(), 4000, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The table must equal the plaintext computation exactly, so this
	// federation's policy data relaxes the default bundle's DP
	// requirement and the form starts without ε.
	fed, err := sandbox.Start(ctx, sandbox.Config{Partners: partners, QueryTimeout: time.Minute,
		PolicyData: map[string]any{"dp": map[string]any{"required": false}}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	def, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	def.Epsilon = 0
	srv, err := console.New(fed.ConsoleConfig("127.0.0.1:0", def))
	if err != nil {
		t.Fatal(err)
	}
	lis, url, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, lis) }()
	defer func() { stop(); <-served }()

	p := &page{t: t, ctx: browser(t, ctx), dir: screenshotDir(t)}
	p.run("open the console", chromedp.Navigate(url+"#analyst"), visible(`body[data-ready="true"]`),
		visible("#check-ok"))

	t.Run("analyst runs a query built in the form", func(t *testing.T) {
		p.t = t
		// Build: the default query, for South China.
		p.run("edit the filter", setField("#f-filter-0-value", "south"), chromedp.Sleep(500*time.Millisecond),
			visible("#check-ok"))
		if y := p.text("#spec-yaml"); !strings.Contains(y, "value: south") {
			t.Fatalf("the YAML to sign does not follow the form:\n%s", y)
		}
		p.run("run", click("#run-query"), visible("#result-table"))
		got := value(p, "read the table", chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#result-table tbody tr')].map(tr => [...tr.children].map(td => td.dataset.raw))`))
		spec := *def
		spec.Filter = []query.Predicate{{Column: "region", Op: "eq", Value: "south"}}
		want, err := fed.Expected(ctx, &spec)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(rawCells(want)) {
			t.Fatalf("table on the page:\n%v\nplaintext computation:\n%v", got, rawCells(want))
		}
		if s := p.text("#run h2"); !strings.Contains(s, "done") {
			t.Errorf("run state %q", s)
		}
		if s := p.text("#withheld-note"); !strings.Contains(s, "withheld") {
			t.Errorf("withheld note %q", s)
		}
		progress := value(p, "progress", chromedp.Evaluate[int](`document.querySelectorAll('#progress td.done').length`))
		if progress < 3*5 { // attached and four phases, three partners
			t.Errorf("%d progress steps done, want 15", progress)
		}
		csv := value(p, "export CSV", chromedp.Evaluate[string](`fetch(document.querySelector('#export-csv').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
		if !strings.HasPrefix(csv, "age,city_tier,count,mean_credit_score,") || strings.Count(csv, "\n") != len(want.Rows)+1 {
			t.Errorf("exported CSV:\n%s", csv)
		}
		p.run("heat map", visible("#chart canvas"))
		p.shot("analyst.png")
	})

	t.Run("language switch", func(t *testing.T) {
		p.t = t
		p.run("switch to Chinese", click("#lang-switch"), visible("#result-table"))
		if s := p.text(`#nav a[data-view="analyst"]`); s != "分析师" {
			t.Errorf("nav after switching = %q", s)
		}
		if s := p.text("#run h2"); !strings.Contains(s, "完成") {
			t.Errorf("run state in Chinese = %q", s)
		}
		p.shot("analyst-zh.png")
		p.run("switch back", click("#lang-switch"))
		if s := p.text(`#nav a[data-view="analyst"]`); s != "Analyst" {
			t.Errorf("nav after switching back = %q", s)
		}
	})

	t.Run("refused query shows its article", func(t *testing.T) {
		p.t = t
		p.run("marketing purpose", setField("#f-purpose", "marketing_analytics"), chromedp.Sleep(500*time.Millisecond),
			visible("#problems"))
		if s := p.text("#problems"); !strings.Contains(s, "PURPOSE_COLUMNS, PIPL Art. 6") {
			t.Fatalf("catalogue problems = %q", s)
		}
		p.run("submit anyway", click("#force"), click("#run-query"),
			visible("#refusal"))
		s := p.text("#refusal")
		if !strings.Contains(s, "PURPOSE_COLUMNS") || !strings.Contains(s, "PIPL Art. 6") {
			t.Errorf("refusal = %q", s)
		}
		p.shot("analyst-refused.png")
	})

	t.Run("analyst loads a spec file", func(t *testing.T) {
		p.t = t
		file, err := filepath.Abs("../examples/bank-marketing/query.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p.run("load", chromedp.SetUploadFiles(chromedp.CSS("#spec-file"), []string{file}), chromedp.Sleep(500*time.Millisecond), visible("#problems"))
		// The bank-marketing columns are not in this federation's catalogue.
		if s := p.text("#problems"); !strings.Contains(s, "group_by[1].column") || !strings.Contains(s, "marital") {
			t.Errorf("problems of the loaded spec: %q", s)
		}
		if v := value(p, "purpose", chromedp.Value(chromedp.CSS("#f-purpose"))); v != "marketing_analytics" {
			t.Errorf("purpose after loading = %q", v)
		}
	})

	t.Run("regulator diffs two revisions and runs the tests", func(t *testing.T) {
		p.t = t
		next, err := policy.BuildBundle(nil, policy.BuildOptions{Revision: "2027-01-r2", Sequence: 2, Data: map[string]any{
			"release_gate": map[string]any{"min_cell_size": 80},
			"dp":           map[string]any{"max_epsilon_per_query": 1},
		}})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "bundle-r2.tar.gz")
		if err := os.WriteFile(file, next, 0o644); err != nil {
			t.Fatal(err)
		}
		p.run("open the regulator view", chromedp.Navigate(url+"#regulator"), visible("#bundle-detail"))
		if s := p.text("#verify-result"); !strings.Contains(s, "Signature verified") {
			t.Errorf("current bundle: %q", s)
		}
		// The federation's bundle relaxes DP in its data, so the bundle's
		// own test of the production default fails, visibly.
		p.run("run tests", click("#run-tests"), visible("#tests-summary"))
		if s := p.text("#tests-summary"); strings.Contains(s, " 0 failed") {
			t.Errorf("tests of the relaxed bundle: %q", s)
		}
		if s := p.text("#tests"); !strings.Contains(s, "admission_test.test_dp_required_by_default") {
			t.Errorf("the failing DP test is not named: %q", s)
		}
		p.run("open the built-in bundle", click(`#bundle-list button[data-open="builtin"]`), visible("#tests > div.muted"),
			click("#run-tests"), visible("#tests-summary"))
		if s := p.text("#tests-summary"); !strings.Contains(s, " 0 failed") {
			t.Errorf("tests of the built-in bundle: %q", s)
		}
		if s := p.text("#rules"); !strings.Contains(s, "PURPOSE_COLUMNS") || !strings.Contains(s, "PIPL Art. 6") {
			t.Error("rules table lacks PURPOSE_COLUMNS with its article")
		}
		p.shot("regulator-bundle.png")
		p.run("upload the next revision", chromedp.SetUploadFiles(chromedp.CSS("#bundle-file"), []string{file}),
			visible(`#bundle-list button[data-open="upload-3"]`))
		if s := p.text("#verify-result"); !strings.Contains(s, "signature") {
			t.Errorf("an unsigned upload: %q", s)
		}
		p.run("diff", setField("#diff-from", "current"), setField("#diff-to", "upload-3"), click("#diff-run"),
			visible("#diff-settings"))
		s := p.text("#diff-settings")
		for _, want := range []string{"release_gate.min_cell_size", "50", "80", "dp.max_epsilon_per_query"} {
			if !strings.Contains(s, want) {
				t.Errorf("diff lacks %q: %q", want, s)
			}
		}
		p.run("scroll", chromedp.ScrollIntoView(chromedp.CSS("#diff-panel")))
		p.shot("regulator-diff.png")
	})

	t.Run("regulator finds the tampered audit entry", func(t *testing.T) {
		p.t = t
		logPath := filepath.Join(fed.NodeStateDir("bank-east"), "audit.log")
		data, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		// Someone turns a release decision into a denial after the fact.
		lines := bytes.SplitAfter(data, []byte("\n"))
		edited := -1
		for i, l := range lines {
			if bytes.Contains(l, []byte(`"kind":"release"`)) {
				lines[i], edited = bytes.Replace(l, []byte(`"result":"allow"`), []byte(`"result":"deny"`), 1), i
				break
			}
		}
		if edited < 0 {
			t.Fatal("no release decision in the log")
		}
		tampered := bytes.Join(lines, nil)
		_, verr := audit.Verify(bytes.NewReader(tampered), audit.VerifyOptions{})
		var ve *audit.VerifyError
		if !errors.As(verr, &ve) {
			t.Fatalf("the tampered log verifies: %v", verr)
		}
		file := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(file, tampered, 0o644); err != nil {
			t.Fatal(err)
		}
		p.run("verify a node's own log", click(`#audit-panel button[data-node="bank-east"]`), visible("#audit-result.ok"))
		p.run("upload the tampered log", chromedp.SetUploadFiles(chromedp.CSS("#audit-file"), []string{file}),
			click("#audit-verify"), visible("#audit-bad-entry"))
		s := p.text("#audit-bad-entry")
		if ve.Line != edited+1 {
			t.Fatalf("audit.Verify names line %d, the edit is on line %d", ve.Line, edited+1)
		}
		if want := fmt.Sprintf("line %d", ve.Line); !strings.Contains(s, want) {
			t.Errorf("bad entry %q does not name %s", s, want)
		}
		p.run("data subject", setField("#subject-node", "bank-east"), setField("#subject-id", "bank-east-000001"),
			click("#subject-run"), visible("#subject-summary"))
		p.run("scroll", chromedp.ScrollIntoView(chromedp.CSS("#audit-panel")))
		p.shot("regulator-audit.png")
	})

	t.Run("operator sees the members and the queries", func(t *testing.T) {
		p.t = t
		p.run("open the operator view", chromedp.Navigate(url+"#operator"), visible("#members"))
		s := p.text("#members")
		for _, n := range sandbox.DefaultPartnerNames() {
			if !strings.Contains(s, n) {
				t.Errorf("members lack %s: %q", n, s)
			}
		}
		for _, want := range []string{"current", "fedscore-default", "expires"} {
			if !strings.Contains(s, want) {
				t.Errorf("members lack %q (epoch key, policy bundle): %q", want, s)
			}
		}
		if s := p.text("#federation"); !strings.Contains(s, "serving") || !strings.Contains(s, "ready") || !strings.Contains(s, "3 of 3 members") {
			t.Errorf("federation panel %q", s)
		}
		// The coordinator's record of this analyst's queries: the answered
		// one with its phases, the refused one with the refusing codes.
		q := p.text("#coordinator-queries")
		for _, want := range []string{"answered", "refused", "PURPOSE_COLUMNS", "risk_analytics"} {
			if !strings.Contains(q, want) {
				t.Errorf("the coordinator's queries lack %q: %q", want, q)
			}
		}
		if n := value(p, "phase bars", chromedp.Evaluate[int](`[...document.querySelectorAll('#coordinator-queries .phases .phase')].filter(e => e.offsetWidth > 0).length`)); n < 5 {
			t.Errorf("%d phase segments drawn, want the answered query's five", n)
		}
		p.shot("operator.png")

	})
}
