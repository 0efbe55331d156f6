// Package tuist is a compile-only stand-in for github.com/vito/tuist v0.0.6, the terminal UI toolkit behind the
// Dagger CLI's interactive ("tty") progress view. The Go module proxy refuses that module, so the lab's build of
// Dagger v0.21.8 replaces it with this package (see ../../go.mod): it declares only the names Dagger's code
// compiles against, written here from how Dagger calls them; no tuist source is copied.
//
// What that means at run time: nothing here draws anything. The CLI the lab builds must not pick the interactive
// view, so the lab's `dagger` on PATH defaults DAGGER_PROGRESS=plain, and TUI.Start refuses with a message saying
// so (an inert view would swallow the output of `dagger run` on a terminal). Plain, logs, dots and report progress
// and every engine feature do not use this package and work as upstream's.
package tuist

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	uv "github.com/charmbracelet/ultraviolet"
)

// Context is what a component's callbacks receive: layout constraints plus a sink for rendered lines.
type Context struct {
	context.Context
	Width, Height int
}

func (ctx Context) Line(string)             {}
func (ctx Context) Lines(...string)         {}
func (ctx Context) ScreenHeight() int       { return ctx.Height }
func (ctx Context) Resize(w, h int) Context { ctx.Width, ctx.Height = w, h; return ctx }
func (ctx Context) SetFocus(Component)      {}

// RenderResult is what rendering a child returns.
type RenderResult struct{ Lines []string }

// Compo is embedded by every component.
type Compo struct{}

func (c *Compo) Update()                                           {}
func (c *Compo) compo() *Compo                                     { return c }
func (c *Compo) RenderChild(Context, Component)                    {}
func (c *Compo) RenderChildResult(Context, Component) RenderResult { return RenderResult{} }
func (c *Compo) RenderChildInline(Context, Component) string       { return "" }

type Component interface {
	compo() *Compo
	Render(ctx Context)
}

// The optional component capabilities. The stand-in never calls them, so each needs only to exist.
type (
	Interactive  interface{ Component }
	Focusable    interface{ Component }
	Mounter      interface{ Component }
	Dismounter   interface{ Component }
	MouseEnabled interface{ Component }
	Hoverable    interface{ Component }
)

// MouseEvent is a mouse event with the row and column it happened at, relative to the component.
type MouseEvent struct {
	uv.MouseEvent
	Row, Col int
}

type Completion struct {
	Label       string
	Detail      string
	Description string
	Insert      string
}

type CompletionResult struct {
	Items       []Completion
	ReplaceFrom int
}

type TextInput struct {
	Compo
	Prompt         string
	OnSubmit       func(Context, string) bool
	KeyInterceptor func(Context, uv.KeyPressEvent) bool
	value          string
}

func NewTextInput(value string) *TextInput { return &TextInput{value: value} }
func (t *TextInput) Render(Context)         {}
func (t *TextInput) Value() string          { return t.value }
func (t *TextInput) SetValue(value string)  { t.value = value }
func (t *TextInput) InsertRune(r rune)      { t.value += string(r) }

type CompletionMenu struct{ Compo }

func NewCompletionMenu(*TextInput, func(input string, cursorPos int) CompletionResult) *CompletionMenu {
	return &CompletionMenu{}
}
func (m *CompletionMenu) Render(Context)                                {}
func (m *CompletionMenu) HandleKeyPress(Context, uv.KeyPressEvent) bool { return false }

type Container struct {
	Compo
	Children []Component
}

func (c *Container) Render(Context)         {}
func (c *Container) AddChild(ch Component)  { c.Children = append(c.Children, ch) }
func (c *Container) RemoveChild(Component)  {}

type Spinner struct {
	Compo
	Epoch time.Time
}

func NewSpinner() *Spinner        { return &Spinner{} }
func (s *Spinner) Render(Context) {}

type Size struct{}

func SizeAbs(int) Size { return Size{} }

type Anchor int

const AnchorTopRight Anchor = iota

type OverlayMargin struct{ Top, Right, Bottom, Left int }

type OverlayOptions struct {
	Width  Size
	Anchor Anchor
	Margin OverlayMargin
}

type OverlayHandle struct{}

func (h *OverlayHandle) Remove() {}

type Terminal struct{}

func NewStdTerminal() *Terminal { return &Terminal{} }

// TUI is the root of a component tree bound to a terminal.
type TUI struct{ Container }

func New(*Terminal) *TUI { return &TUI{} }

// Start refuses: see the package comment. Exit status 2, like a usage error, with the fix.
func (t *TUI) Start() {
	fmt.Fprintln(os.Stderr, "dagger: this build (the e2e3d lab's, from the Go module proxy) has no interactive progress view; "+
		"use --progress=plain (or DAGGER_PROGRESS=plain)")
	os.Exit(2)
}

func (t *TUI) Stop()                                                 {}
func (t *TUI) Dispatch(fn func())                                    { fn() }
func (t *TUI) SetFocus(Component)                                    {}
func (t *TUI) SetShowHardwareCursor(bool)                            {}
func (t *TUI) ShowOverlay(Component, *OverlayOptions) *OverlayHandle { return &OverlayHandle{} }
func (t *TUI) SetDebugWriter(io.Writer)                              {}
func (t *TUI) RenderLines() []string                                 { return nil }
func (t *TUI) RequestRender(bool)                                    {}
func (t *TUI) Exec(fn func(stdin io.Reader, stdout, stderr io.Writer) error) error {
	return fn(os.Stdin, os.Stdout, os.Stderr)
}
