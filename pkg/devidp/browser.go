package devidp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// SignIn does in Go what a browser does between a relying party's
// authorization URL and its redirect URI: it follows the redirects to the
// sign-in page, submits the page's form with userID's button, follows the
// provider's redirects, and returns the redirect to the client (with code
// and state) without following it. A redirect carrying an OAuth error
// (e.g. login_required) is returned with an error naming it; a page the
// provider answers instead of a redirect (e.g. for a redirect URI it does
// not know) is an error.
//
// hc carries the browser's cookies: nil means a fresh browser; pass one with
// a cookie jar to keep the provider's session between calls (prompt=none,
// sign-out). SignIn never changes hc.
func (p *Provider) SignIn(ctx context.Context, hc *http.Client, authorizeURL, userID string) (redirectedTo *url.URL, err error) {
	browser := http.Client{}
	if hc != nil {
		browser = *hc
	}
	if browser.Jar == nil {
		browser.Jar, _ = cookiejar.New(nil) // never fails without options
	}
	issuer, _ := url.Parse(p.issuer) // checked by New
	browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != issuer.Host {
			return http.ErrUseLastResponse // the client's redirect URI: stop there
		}
		if len(via) >= 10 {
			return errors.New("devidp: more than 10 redirects")
		}
		return nil
	}

	resp, err := get(ctx, &browser, authorizeURL)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == pathSignIn {
		action, form, err := signInForm(resp, userID)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("devidp: sign in: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = browser.Do(req); err != nil {
			return nil, fmt.Errorf("devidp: submit sign-in form: %w", err)
		}
	}
	return redirectToClient(resp)
}

func get(ctx context.Context, c *http.Client, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("devidp: authorization URL: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devidp: open authorization URL: %w", err)
	}
	return resp, nil
}

// redirectToClient reads the provider's last answer, which must redirect
// the browser to the client.
func redirectToClient(resp *http.Response) (*url.URL, error) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, fmt.Errorf("devidp: provider answered %s at %s instead of redirecting to the client: %s",
			resp.Status, resp.Request.URL.Path, strings.TrimSpace(string(body)))
	}
	to, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("devidp: redirect without a location: %w", err)
	}
	if e := to.Query().Get("error"); e != "" {
		return to, fmt.Errorf("devidp: authorization refused: %s: %s", e, to.Query().Get("error_description"))
	}
	return to, nil
}

// signInForm finds the form holding userID's button on the sign-in page and
// returns where it posts and what it sends when that button is clicked.
func signInForm(resp *http.Response, userID string) (*url.URL, url.Values, error) {
	defer resp.Body.Close()
	doc, err := html.Parse(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("devidp: read sign-in page: %w", err)
	}
	var (
		action string
		form   url.Values
		found  bool
	)
	var walk func(n *html.Node, inForm url.Values, formAction string)
	walk = func(n *html.Node, inForm url.Values, formAction string) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				inForm, formAction = url.Values{}, attr(n, "action")
				defer func() {
					if found && form == nil {
						form, action = inForm, formAction
					}
				}()
			case "input":
				if inForm != nil && attr(n, "type") == "hidden" {
					inForm.Add(attr(n, "name"), attr(n, "value"))
				}
			case "button":
				if inForm != nil && attr(n, "name") == paramUser && attr(n, "value") == userID && !found {
					found = true
					inForm.Add(paramUser, userID)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm, formAction)
		}
	}
	walk(doc, nil, "")
	if form == nil {
		return nil, nil, fmt.Errorf("devidp: the sign-in page has no button for user %q", userID)
	}
	to, err := resp.Request.URL.Parse(action)
	if err != nil {
		return nil, nil, fmt.Errorf("devidp: sign-in form action %q: %w", action, err)
	}
	return to, form, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}
