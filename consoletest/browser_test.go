package consoletest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: TBS_CHROMIUM, else chromium on the PATH.
// Without one the tests skip, or fail under TBS_REQUIRE_ZK=1 (the test
// command installs the Debian package chromium).
func chromium(t *testing.T) string {
	if p := os.Getenv("TBS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TBS_REQUIRE_ZK") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium; scripts/test does it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.WindowSize(1360, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions, each bounded, failing the test with what step
// failed.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	value(t, ctx, what, chromedp.Steps(actions...))
}

// value runs one browser action and returns its value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
	return v
}

// eval runs JavaScript for its effect.
func eval(js string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](js) }

// waitFor polls a JavaScript condition on the page until it holds.
// A poll fails when the page navigates under it (a form's redirect): it
// is then started again on the new page, until the timeout.
func waitFor(js string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(timeout)
		for {
			poll := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline)))
			_, err := poll(ctx, tg)
			if err == nil || !time.Now().Before(deadline) {
				return chromedp.Void{}, err
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond): // the next page loads
			}
		}
	}
}

// shot saves a PNG of the page into TBS_CONSOLE_SCREENSHOTS, when set (the
// screenshots of docs/console are made this way).
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TBS_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, ctx context.Context, url, user, password string) {
	run(t, ctx, "log in as "+user,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		waitFor(`document.querySelector("#whoami") && document.querySelector("#whoami").textContent.startsWith("`+user+` ")`, 10*time.Second))
}

// Item states of the task type page, as JavaScript.
const (
	itemStates = `[...document.querySelectorAll("#items-BASE tbody tr")].map(r => r.lastChild.textContent)`
	allOwned   = `(() => { const s = ` + itemStates + `; return s.length == 8 && s.every(x => x == "OWNED"); })()`
)

// TestConsoleInBrowser drives the console in Chromium against three
// factory processes on real ZooKeeper: one browser, one cluster, the
// steps in order (each needs the state the last one left).
func TestConsoleInBrowser(t *testing.T) {
	c := startCluster(t)
	for _, h := range []string{"w1", "w2", "w3"} {
		c.startWorker(h)
	}
	c.startConsole(context.Background())
	ctx := browser(t)
	steps := []struct {
		name string
		run  func(*testing.T, context.Context, *cluster)
	}{
		{"login page", loginPage},
		{"log in as an operator", func(t *testing.T, ctx context.Context, c *cluster) { login(t, ctx, c.url, "ops", opsPassword) }},
		{"overview shows the running cluster", overview},
		{"edit a task type: diff, then a concurrent edit refused, then saved", editTaskType},
		{"pause: the items go unassigned live; resume", pauseLive},
		{"kill a process: the hold, then the takeover", killTakeover},
		{"stop and start a factory", stopStartFactory},
		{"strategies, factories and tree pages", otherPages},
		{"a forged cross-site POST is refused", forgedPost},
		{"a viewer is refused a change", viewerRefused},
		{"the audit log has the operator's changes", auditLog},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(t, ctx, c) }) {
			t.FailNow() // each step needs the state the last one left
		}
	}
}

// loginPage: login page.
func loginPage(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "wrong password", chromedp.Navigate(u+"/strategies"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#user"), "ops"), chromedp.SendKeys(chromedp.CSS("#password"), "wrong"), chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")))
	shot(t, ctx, "login")
}

// overview: overview shows the running cluster.
func overview(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "overview", chromedp.Navigate(u+"/"),
		waitFor(`document.querySelector("#factory-count") && document.querySelector("#factory-count").textContent.startsWith("3 live")`, 20*time.Second),
		// task type orders: 3 servers live, 8 items, 8 owned
		waitFor(`(() => { const r = [...document.querySelectorAll("#tasktypes tbody tr")].find(r => r.cells[0].textContent == "orders");
			return r && r.cells[1].textContent == "3" && r.cells[3].textContent == "8"; })()`, 30*time.Second))
	shot(t, ctx, "overview")
}

// editTaskType: edit a task type: diff, then a concurrent edit refused, then saved.
func editTaskType(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	var diff string
	run(t, ctx, "preview", chromedp.Navigate(u+"/edit/taskType/orders"), chromedp.WaitVisible(chromedp.CSS("#f-threadNumber")),
		chromedp.SetValue(chromedp.CSS("#f-threadNumber"), "9"), chromedp.Click(chromedp.CSS("#preview")),
		waitFor(`document.querySelector("#diff").textContent.includes("would be updated")`, 10*time.Second))
	diff = value(t, ctx, "diff", chromedp.TextContent(chromedp.CSS("#diff")))
	if !strings.Contains(diff, "threadNumber 5 -> 9") {
		t.Fatalf("the diff does not show threadNumber 5 -> 9:\n%s", diff)
	}
	shot(t, ctx, "edit-diff")
	// Someone else changes the task type meanwhile (tbsctl apply).
	c.ctl(nil, "apply", "-f", c.write("other.yaml", strings.Replace(clusterYAML, "threadNumber: 5", "threadNumber: 6", 1)))
	run(t, ctx, "save refused", chromedp.Click(chromedp.CSS("#save")),
		waitFor(`document.querySelector("#diff").textContent.includes("REFUSED")`, 10*time.Second))
	diff = value(t, ctx, "diff", chromedp.TextContent(chromedp.CSS("#diff")))
	if !strings.Contains(diff, "changed by someone else since you loaded it") {
		t.Fatalf("a concurrent edit was not reported:\n%s", diff)
	}
	if got := c.ctl(nil, "get", "taskType", "orders"); !strings.Contains(got, `"threadNumber": 6`) {
		t.Fatalf("the concurrent edit was overwritten:\n%s", got)
	}
	run(t, ctx, "reload and save", chromedp.Navigate(u+"/edit/taskType/orders"), chromedp.WaitVisible(chromedp.CSS("#f-threadNumber")),
		chromedp.SetValue(chromedp.CSS("#f-threadNumber"), "9"), chromedp.Click(chromedp.CSS("#save")),
		waitFor(`document.querySelector("#diff").textContent.startsWith("saved")`, 10*time.Second))
	diff = value(t, ctx, "diff", chromedp.TextContent(chromedp.CSS("#diff")))
	if !strings.Contains(diff, "threadNumber 6 -> 9") {
		t.Fatalf("the save does not report threadNumber 6 -> 9:\n%s", diff)
	}
	if got := c.ctl(nil, "get", "taskType", "orders"); !strings.Contains(got, `"threadNumber": 9`) {
		t.Fatalf("the save was not written:\n%s", got)
	}
}

// pauseLive: pause: the items go unassigned live; resume.
func pauseLive(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "task type page", chromedp.Navigate(u+"/tasktype/orders"), waitFor(allOwned, 30*time.Second),
		eval(`window.sameLoad = true`))
	shot(t, ctx, "tasktype")
	run(t, ctx, "pause", chromedp.Click(chromedp.CSS("#pause-orders-s")),
		waitFor(`(() => { const s = `+itemStates+`; return s.length == 8 && s.every(x => x == "UNASSIGNED"); })()`, 30*time.Second),
		// The recent events: the pause through the console (its audit
		// record), and what the console then saw in the tree.
		waitFor(`(() => { const t = document.querySelector("#events").textContent;
			return t.includes("ops (operator) through this console: pause orders-s: done") && t.includes("strategy orders-s paused") && t.includes("(now unassigned)"); })()`, 10*time.Second),
		waitFor(`window.sameLoad === true`, time.Second))
	run(t, ctx, "resume", chromedp.Click(chromedp.CSS("#resume-orders-s")), waitFor(allOwned, 30*time.Second))
}

// killTakeover: kill a process: the hold, then the takeover.
func killTakeover(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "task type page", chromedp.Navigate(u+"/tasktype/orders"), waitFor(allOwned, 30*time.Second),
		waitFor(`[...document.querySelectorAll("#servers-BASE tbody tr")].some(r => r.cells[1].textContent.startsWith("w1#"))`, 30*time.Second),
		eval(`window.sameLoad = true`))
	c.kill("w1")
	run(t, ctx, "hold", waitFor(`(`+itemStates+`).some(x => x.startsWith("HELD until")) && document.querySelector("li.hold") != null`, 30*time.Second))
	shot(t, ctx, "tasktype-hold")
	run(t, ctx, "takeover", waitFor(allOwned+` && ![...document.querySelectorAll("#items-BASE tbody tr")].some(r => r.cells[1].textContent.startsWith("w1#"))`, 30*time.Second),
		// The recent events tell the crash in the console's words.
		waitFor(`(() => { const t = document.querySelector("#events").textContent;
			return /server w1#\d+ vanished/.test(t) && /holding \d+ items? of vanished w1#/.test(t) && /the hold on the items of w1#\d+ ended/.test(t); })()`, 10*time.Second),
		waitFor(`window.sameLoad === true`, time.Second))
}

// stopStartFactory: stop and start a factory.
func stopStartFactory(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	row := `[...document.querySelectorAll("#factories tbody tr")].find(r => r.cells[0].textContent.startsWith("w2#"))`
	run(t, ctx, "factories page", chromedp.Navigate(u+"/factories"), waitFor(row+` != null`, 30*time.Second),
		chromedp.SendKeys(chromedp.CSS("#stop-reason"), "kernel upgrade"))
	stop := value(t, ctx, "stop button", chromedp.Evaluate[string](row+`.querySelector("button").id`))
	run(t, ctx, "stop", chromedp.Click(chromedp.CSS("#"+stop)),
		waitFor(row+`.cells[3].textContent.includes("kernel upgrade (console user ops)")`, 30*time.Second))
	if got := c.ctl(nil, "factories"); !strings.Contains(got, "STOPPED") || !strings.Contains(got, "kernel upgrade (console user ops)") {
		t.Fatalf("the stop flag is not set:\n%s", got)
	}
	shot(t, ctx, "factories")
	start := value(t, ctx, "start button", chromedp.Evaluate[string](row+`.querySelector("button").id`))
	run(t, ctx, "start", chromedp.Click(chromedp.CSS("#"+start)), waitFor(row+`.cells[3].textContent == "running"`, 30*time.Second))
}

// otherPages: strategies, factories and tree pages.
func otherPages(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "strategies", chromedp.Navigate(u+"/strategies"), waitFor(`document.querySelector("#strategies") && document.querySelector("#strategies").textContent.includes("orders-s")`, 10*time.Second))
	shot(t, ctx, "strategies")
	run(t, ctx, "factories", chromedp.Navigate(u+"/factories"), waitFor(`document.querySelectorAll("#factories tbody tr").length == 2`, 30*time.Second))
	run(t, ctx, "tree", chromedp.Navigate(u+"/tree"), waitFor(`document.querySelector("#tree") && document.querySelector("#tree").textContent.includes("baseTaskType")`, 10*time.Second))
}

// forgedPost: a forged cross-site POST is refused.
func forgedPost(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	// Another site (another port: same-site for cookies, another origin)
	// posts a pause with the operator's session cookie in the browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><form id="f" method="POST" action="%s/api/pause" enctype="text/plain">
<input name='{"name":"orders-s","x":"' value='"}'></form><script>document.getElementById("f").submit()</script></body></html>`, u)
	}))
	defer evil.Close()
	run(t, ctx, "forged post", chromedp.Navigate(evil.URL),
		waitFor(`location.href.startsWith("`+u+`") && document.body.innerText.includes("refused: the request did not come from the console")`, 10*time.Second))
	body := value(t, ctx, "page", chromedp.Evaluate[string](`document.body.innerText`))
	if got := c.ctl(nil, "get", "strategy", "orders-s"); !strings.Contains(got, `"sts": "resume"`) {
		t.Fatalf("the forged POST paused the strategy (page: %s):\n%s", body, got)
	}
}

// viewerRefused: a viewer is refused a change.
func viewerRefused(t *testing.T, ctx context.Context, c *cluster) {
	u := c.url
	run(t, ctx, "log out", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.CSS("#logout")), chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	login(t, ctx, u, "eve", evePassword)
	run(t, ctx, "viewer", chromedp.Navigate(u+"/strategies"), chromedp.WaitVisible(chromedp.CSS("#pause-orders-s")))
	disabled := value(t, ctx, "button", chromedp.Evaluate[bool](`document.querySelector("#pause-orders-s").disabled`))
	// The button is disabled; the request it would send is refused.
	answer := value(t, ctx, "post", chromedp.Evaluate[map[string]any](`post("/api/pause", {name: "orders-s"})`, chromedp.EvalAwaitPromise))
	if !disabled {
		t.Error("the viewer's pause button is enabled")
	}
	if answer["ok"] != false || !strings.Contains(fmt.Sprint(answer["error"]), `"eve" is a viewer`) {
		t.Errorf("the viewer's pause was not refused: %v", answer)
	}
	if got := c.ctl(nil, "get", "strategy", "orders-s"); !strings.Contains(got, `"sts": "resume"`) {
		t.Fatalf("the viewer paused the strategy:\n%s", got)
	}
}

// auditLog: the audit log has the operator's changes.
func auditLog(t *testing.T, ctx context.Context, c *cluster) {
	b, err := os.ReadFile(c.audit)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{`"user":"ops","role":"operator","action":"save taskType","target":"orders"`, `"action":"pause","target":"orders-s"`, `\"threadNumber\":9`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, `"user":"eve"`) {
		t.Errorf("audit log has a change by the viewer:\n%s", log)
	}
}
