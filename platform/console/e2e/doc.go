// Package e2e drives the web console in a real browser (headless Chromium, through chromedp)
// against the fully wired API. It is a module of its own so that chromedp stays out of the
// dependencies of the campaigns module that embedders import; run it with
// `cd platform/console/e2e && go test ./...` (CI does, see .ci/run).
package e2e
