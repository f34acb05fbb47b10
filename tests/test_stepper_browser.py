"""The step-through view of a trace (``Trace.to_html``), in a real headless browser.

The page is loaded from a file, "next" is pressed frame after frame, and what the page shows
(the highlighted node, the value, the gradient arriving, the chain rule's numbers, the
gradient written into the graph) is compared with the trace. The browser is Debian's
Chromium driven by Selenium with the system chromedriver; where neither can be installed the
browser tests are skipped with a message, except under CI (``CI`` set), where they fail.

Run as a script, it writes the README's screenshots::

    python tests/test_stepper_browser.py        # docs/images/stepper_neuron.png, ..._training.png
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.graph import format_array

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


# ---- the graphs ---------------------------------------------------------------------------------


def neuron() -> tg.Tensor:
    """micrograd's neuron, o = tanh(x1*w1 + x2*w2 + b), as in demos/scalar_neuron_graph.py."""
    x1 = tg.Tensor(2.0, requires_grad=True, name="x1")
    x2 = tg.Tensor(0.0, requires_grad=True, name="x2")
    w1 = tg.Tensor(-3.0, requires_grad=True, name="w1")
    w2 = tg.Tensor(1.0, requires_grad=True, name="w2")
    b = tg.Tensor(6.8813735870195432, requires_grad=True, name="b")
    x1w1, x2w2 = x1 * w1, x2 * w2
    s = x1w1 + x2w2
    n = s + b
    o = n.tanh()
    for tensor, name in [(x1w1, "x1*w1"), (x2w2, "x2*w2"), (s, "x1*w1 + x2*w2"), (n, "n")]:
        tensor.name = name
    o.name = "o"
    return o


def reuse_graph() -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """A value used three times (twice by one operation), a broadcast, a sum, a constant."""
    a = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    a.name = "a"
    c = tg.tensor(1.5, dtype=tg.float64, requires_grad=True)
    c.name = "c"
    k = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)
    k.name = "k"
    y = (a * a + a * c) * k
    loss = y.sum().tanh() * 0.5
    return loss, {"a": a, "c": c, "k": k}


def tiny_training(steps: int = 3, max_values: int = 16):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    x = tg.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tg.tensor([[1.0], [1.0], [0.0]])
    opt = optim.SGD(model.parameters(), lr=0.5)
    recorder = tg.debug.TrainingRecorder(model, max_values=max_values)
    for _ in range(steps):
        opt.zero_grad()
        recorder.record(F.mse_loss(model(x), y))
        opt.step()
    return model, recorder


def number(text: str) -> float:
    return float(text.strip())


def numbers(text: str) -> np.ndarray:
    """The numbers of a printed (nested) list, flattened."""
    return np.array([float(t) for t in re.findall(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?|nan|inf", text)])


# ---- what the trace records for the view (no browser) ------------------------------------------


def test_trace_records_the_forward_pass_in_creation_order():
    o = neuron()
    trace = tg.trace_backward(o)
    assert [f.op for f in trace.forward] == ["Mul", "Mul", "Add", "Add", "Tanh"]
    assert [f.output for f in trace.forward] == ["x1*w1", "x2*w2", "x1*w1 + x2*w2", "n", "o"]
    assert [leaf.name for leaf in trace.leaves] == ["x1", "w1", "x2", "w2", "b"]
    assert trace.forward[0].args == ["x1", "w1"]
    assert trace.forward[-1].value.item() == pytest.approx(np.tanh(0.8813735870195432))
    # every leaf ends with its .grad, and what its uses sent adds up to it
    for leaf in trace.leaves:
        sent = sum(g.item() for _, g in trace.leaf_arrivals[leaf.name])
        assert sent == pytest.approx(leaf.grad.item(), abs=1e-15)


def test_local_derivatives_are_the_ops_own_and_give_the_sent_gradient():
    loss, leaves = reuse_graph()
    trace = tg.trace_backward(loss, max_values=8)
    by_op = {}
    for step in trace:
        by_op.setdefault(step.op, []).append(step)
        grad_out = step.grad_output.values.reshape(-1)
        # what arrives is the sum of what each use sent
        arrived = sum(g.values for _, g in step.arrivals)
        np.testing.assert_allclose(arrived, step.grad_output.values, rtol=1e-12)
        for traced in step.inputs:
            if traced.grad is None:
                continue
            # the chain rule with the recorded Jacobian gives what the engine sent
            sent = grad_out @ traced.jacobian
            np.testing.assert_allclose(sent, traced.grad.values.reshape(-1), rtol=1e-12)
    tanh = by_op["Tanh"][0]
    o = tanh.value.item()
    assert tanh.inputs[0].local(tanh.value.shape) == pytest.approx(1 - o**2)
    # y*k with k a constant: elementwise, the local derivative of y is k
    mul_k = next(s for s in by_op["Mul"] if "k" in [t.name for t in s.inputs])
    y_input = next(t for t in mul_k.inputs if t.name != "k")
    np.testing.assert_array_equal(y_input.local(mul_k.value.shape), [1.0, 2.0, 3.0])
    assert mul_k.input("k").grad is None and mul_k.input("k").jacobian is None
    # a*c with c broadcast: d(a*c)/dc is a column, the values of a
    mul_c = next(s for s in by_op["Mul"] if "c" in [t.name for t in s.inputs])
    np.testing.assert_array_equal(mul_c.input("c").jacobian, [[0.5], [-1.0], [2.0]])
    # the value used twice by one multiplication receives both uses' gradients
    square = next(s for s in by_op["Mul"] if [t.name for t in s.inputs] == ["a", "a"])
    a = leaves["a"].data
    np.testing.assert_allclose(square.inputs[0].local(square.value.shape), a)
    assert len(trace.leaf_arrivals["a"]) == 3


def test_the_page_is_self_contained_and_lists_every_frame(tmp_path):
    o = neuron()
    trace = tg.trace_backward(o)
    path = tmp_path / "neuron.html"
    page = trace.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    # nothing is fetched: no external script, style, image or font
    assert not re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", page)
    assert "@import" not in page and "url(" not in page
    for url in re.findall(r"https?://[^\s\"'<>]+", page):
        assert url.startswith("http://www.w3.org/"), url  # SVG's namespaces only
    data = json.loads(re.search(r"class='tg-data'>(.*?)</script>", page, re.S).group(1))
    frames = data["frames"]
    assert len(frames) == 1 + len(trace.forward) + 1 + len(trace) + 1
    assert [f["kind"] for f in frames][:2] == ["inputs", "forward"]
    # without JavaScript: every frame in order, in a list the script hides
    static = re.search(r"<section class='tg-static'>(.*?)</section>", page, re.S).group(1)
    assert static.count("<li id='frame-") == len(frames)
    assert "<svg" in page and page.count("<svg") == 1


def test_a_trace_without_a_drawing_still_has_its_page():
    o = neuron()
    trace = tg.trace_backward(o, draw=False)
    page = trace.to_html()
    assert "The graph is not drawn" in page and "<svg" not in page
    assert "Backward 5 of 5: Mul" in page


def test_jupyter_fragments_have_their_own_ids():
    o = neuron()
    trace = tg.trace_backward(o, retain_graph=True)
    one, two = trace._repr_html_(), trace._repr_html_()
    ids_one = set(re.findall(r"id='([^']+)'", one))
    ids_two = set(re.findall(r"id='([^']+)'", two))
    assert not ids_one & ids_two
    assert "<html" not in one and "data-role='next'" in one


def test_training_recorder_records_each_step_and_the_update():
    model, recorder = tiny_training(steps=3)
    assert len(recorder.traces) == 3
    runs = recorder.runs()
    # the weights after step i are the weights step i+1 started from
    for i in range(2):
        for before, after in zip(runs[i + 1].params, runs[i].params):
            np.testing.assert_array_equal(before.before, after.after)
    for p, (name, param) in zip(runs[-1].params, model.named_parameters()):
        assert p.name == name
        np.testing.assert_array_equal(p.after, param.data)
        np.testing.assert_allclose(p.after - p.before, -0.5 * p.grad, rtol=1e-6, atol=1e-7)
    assert recorder.losses[0] > recorder.losses[-1]


def test_training_recorder_as_a_fit_callback_traces_every_batch():
    tg.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 1))
    x, y = tg.randn(8, 2), tg.randn(8, 1)
    loader = tg.data.DataLoader(tg.data.TensorDataset(x, y), batch_size=4)
    recorder = tg.debug.TrainingRecorder(model)
    opt = optim.SGD(model.parameters(), lr=0.1)
    tg.train.fit(model, F.mse_loss, opt, loader, epochs=2, progress=False, callbacks=[recorder])
    assert len(recorder.traces) == 4
    assert "optimisation step 4" in recorder.to_html()


# ---- the browser --------------------------------------------------------------------------------


def _browser_problem() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if _chromedriver() is None:
        return "chromedriver is missing (apt-get install -y chromium chromium-driver)"
    return None


def _chromedriver() -> str | None:
    found = shutil.which("chromedriver")
    if found:
        return found
    return "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None


def _no_browser(problem: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but {problem}; .ci/run installs them")
    pytest.skip(f"no headless browser here: {problem}")


def _new_driver(javascript: bool = True, size: tuple[int, int] = (1400, 1000)):
    problem = _browser_problem()
    if problem:
        _no_browser(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    try:
        return webdriver.Chrome(service=Service(_chromedriver()), options=options)
    except Exception as error:  # the browser did not start
        _no_browser(f"Chromium did not start: {str(error).splitlines()[0]}")


@pytest.fixture(scope="module")
def browser():
    driver = _new_driver()
    yield driver
    driver.quit()


# One JavaScript call reads everything the page shows about the current frame.
READ_FRAME = """
const root = document.querySelector('.tg-stepper');
const panel = root.querySelector('[data-role=panel]');
const text = (el) => el ? el.textContent : null;
const names = (sel) => Array.from(root.querySelectorAll(sel)).map((g) =>
    g.querySelector('title').textContent);
const shown = Array.from(root.querySelectorAll('.tg-graph'))
    .filter((div) => div.style.display !== 'none');
const graph = shown[0];
const labels = {};
if (graph) graph.querySelectorAll('g.node').forEach((g) => {
  labels[g.querySelector('title').textContent] =
      Array.from(g.querySelectorAll('text')).map((t) => t.textContent);
});
return {
  frame: parseInt(root.getAttribute('data-frame'), 10),
  title: text(panel.querySelector('.tg-frame-title')),
  current: names('.tg-graph g.node.tg-current'),
  output: names('.tg-graph g.node.tg-output'),
  inputs: names('.tg-graph g.node.tg-input'),
  done: names('.tg-graph g.node.tg-done'),
  name: text(panel.querySelector('.tg-current-name')),
  value: text(panel.querySelector('.tg-current-value')),
  gradOutput: text(panel.querySelector('.tg-grad-output')),
  chain: Array.from(panel.querySelectorAll('tr.tg-chain')).map((tr) => ({
    input: tr.getAttribute('data-input'),
    gradOut: text(tr.querySelector('.tg-grad-out')),
    local: text(tr.querySelector('.tg-local')),
    product: text(tr.querySelector('.tg-product')),
    constant: !!tr.querySelector('.tg-constant'),
  })),
  leaves: Array.from(panel.querySelectorAll('tr[data-leaf]')).map((tr) => ({
    name: tr.getAttribute('data-leaf'), grad: text(tr.querySelector('.tg-leaf-grad'))})),
  params: Array.from(panel.querySelectorAll('tr[data-param]')).map((tr) => ({
    name: tr.getAttribute('data-param'),
    cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)})),
  marks: Array.from(root.querySelectorAll('.tg-step-mark.tg-on')).map((m) =>
    m.getAttribute('data-run')),
  row: text(root.querySelector('tr.tg-row-current td')),
  labels: labels,
  counter: text(root.querySelector('[data-role=counter]')),
};
"""


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    state = driver.execute_script(READ_FRAME)
    assert state["frame"] == 0, "the page's script did not run"


def _press_next(driver) -> dict:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "next").click()
    return driver.execute_script(READ_FRAME)


def _check_backward_frame(state: dict, step) -> None:
    assert state["current"] == [step.box]
    assert state["output"] == [step.node]
    assert state["name"] == step.output
    assert number(state["value"]) == pytest.approx(step.value.item(), rel=1e-5)
    assert number(state["gradOutput"]) == pytest.approx(step.grad_output.item(), rel=1e-5)
    assert [row["input"] for row in state["chain"]] == [t.name for t in step.inputs]
    for row, traced in zip(state["chain"], step.inputs):
        g, local, product = number(row["gradOut"]), number(row["local"]), number(row["product"])
        assert g == pytest.approx(step.grad_output.item(), rel=1e-5)
        assert local == pytest.approx(traced.local(step.value.shape).item(), rel=1e-5, abs=1e-12)
        assert product == pytest.approx(traced.grad.item(), rel=1e-5, abs=1e-12)
        assert product == pytest.approx(g * local, rel=1e-4, abs=1e-12)  # the chain rule


@needs_dot
def test_stepping_through_the_neuron_shows_the_traces_numbers(browser, tmp_path):
    o = neuron()
    trace = tg.trace_backward(o)
    path = tmp_path / "neuron.html"
    trace.to_html(path)
    _open(browser, path)
    state = browser.execute_script(READ_FRAME)
    assert state["title"] == "Forward pass: the inputs"
    assert sorted(state["inputs"]) == sorted(leaf.node for leaf in trace.leaves)
    # the forward pass: one operation per press, in the order they were created
    for k, step in enumerate(trace.forward, start=1):
        state = _press_next(browser)
        assert state["frame"] == k
        assert state["current"] == [step.box] and state["output"] == [step.node]
        assert sorted(state["inputs"]) == sorted(t.node for t in step.inputs)
        assert state["name"] == step.output
        assert number(state["value"]) == pytest.approx(step.value.item(), rel=1e-5)
        # the value appears in the graph as it is computed
        assert f"data {format_array(np.asarray(step.value.values))}" in state["labels"][step.node]
    # the seed
    state = _press_next(browser)
    assert state["output"] == [trace._drawing.root] and number(state["gradOutput"]) == 1.0
    # the backward pass: one operation per press, in the order the engine ran them
    for j, step in enumerate(trace.steps):
        state = _press_next(browser)
        _check_backward_frame(state, step)
        assert sorted(state["done"]) == sorted(s.box for s in trace.steps[: j + 1])
        assert state["row"] == str(state["frame"])
    # the end: every leaf's .grad, in the panel and in the graph
    state = _press_next(browser)
    assert state["title"].startswith("Backward pass done")
    shown = {leaf["name"]: number(leaf["grad"]) for leaf in state["leaves"]}
    assert shown == pytest.approx({n: g.item() for n, g in trace.leaf_grads.items()}, abs=1e-12)
    for leaf in trace.leaves:
        assert f"grad {format_array(leaf.grad.values)}" in state["labels"][leaf.node]
    # the last frame: next does nothing more
    assert _press_next(browser)["frame"] == state["frame"]
    assert state["counter"].startswith(f"{state['frame'] + 1} / {state['frame'] + 1}")


@needs_dot
def test_keys_slider_and_table_rows_move_through_the_steps(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    loss, _ = reuse_graph()
    trace = tg.trace_backward(loss, max_values=8)
    path = tmp_path / "reuse.html"
    trace.to_html(path)
    _open(browser, path)
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(3):
        body.send_keys(Keys.ARROW_RIGHT)
    assert browser.execute_script(READ_FRAME)["frame"] == 3
    body.send_keys(Keys.ARROW_LEFT)
    assert browser.execute_script(READ_FRAME)["frame"] == 2
    browser.find_element(By.ID, "prev").click()
    assert browser.execute_script(READ_FRAME)["frame"] == 1
    # the slider, to the first backward step
    first_backward = 1 + len(trace.forward) + 1
    browser.execute_script(
        "const s = document.getElementById('slider'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        first_backward,
    )
    state = browser.execute_script(READ_FRAME)
    step = trace.steps[0]
    assert state["frame"] == first_backward and state["current"] == [step.box]
    # a row of the table: the multiplication whose input is used twice
    square = next(s for s in trace.steps if [t.name for t in s.inputs] == ["a", "a"])
    browser.find_element(
        By.CSS_SELECTOR, f"tr[data-frame='{first_backward + square.index - 1}']"
    ).click()
    state = browser.execute_script(READ_FRAME)
    assert state["current"] == [square.box]
    assert numbers(state["gradOutput"]) == pytest.approx(square.grad_output.values, rel=1e-5)
    for row, traced in zip(state["chain"], square.inputs):
        # elementwise: dL/da = dL/d(a*a) ⊙ a, once per use of a
        assert numbers(row["local"]) == pytest.approx(traced.local(square.value.shape), rel=1e-5)
        assert numbers(row["product"]) == pytest.approx(traced.grad.values, rel=1e-5)
    # the sum's local derivative is a row of ones (a Jacobian), its product the gradient
    total = next(s for s in trace.steps if s.op == "Sum")
    browser.find_element(
        By.CSS_SELECTOR, f"tr[data-frame='{first_backward + total.index - 1}']"
    ).click()
    row = browser.execute_script(READ_FRAME)["chain"][0]
    assert numbers(row["local"]) == pytest.approx([1.0, 1.0, 1.0])
    assert numbers(row["product"]) == pytest.approx(total.inputs[0].grad.values, rel=1e-5)
    # End goes to the last frame
    body.send_keys(Keys.END)
    assert browser.execute_script(READ_FRAME)["title"].startswith("Backward pass done")


@needs_dot
def test_the_training_view_shows_weights_gradients_and_loss_moving(browser, tmp_path):
    model, recorder = tiny_training(steps=3)
    path = tmp_path / "training.html"
    recorder.to_html(path)
    _open(browser, path)
    runs = recorder.runs()
    seen = 0
    state = browser.execute_script(READ_FRAME)
    while True:
        if state["params"]:
            run = runs[seen]
            assert state["marks"] == [str(seen)] * 2  # the loss chart and the weights chart
            for row, p in zip(state["params"], run.params):
                assert row["name"] == p.name
                _, before, grad, after, change = row["cells"]
                assert numbers(before) == pytest.approx(p.before.ravel(), rel=1e-5, abs=1e-7)
                assert numbers(grad) == pytest.approx(p.grad.ravel(), rel=1e-5, abs=1e-7)
                assert numbers(after) == pytest.approx(p.after.ravel(), rel=1e-5, abs=1e-7)
            seen += 1
        following = _press_next(browser)
        if following["frame"] == state["frame"]:
            break
        state = following
    assert seen == 3
    assert state["frame"] == len(json.loads(_data(path))["frames"]) - 1


def _data(path: Path) -> str:
    return re.search(r"class='tg-data'>(.*?)</script>", path.read_text(), re.S).group(1)


@needs_dot
def test_two_views_on_one_page_work_independently(browser, tmp_path):
    """As in a notebook with two traces shown: each view moves by its own buttons."""
    trace = tg.trace_backward(neuron())
    loss, _ = reuse_graph()
    other = tg.trace_backward(loss)
    path = tmp_path / "two.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        f"{trace._repr_html_()}{other._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    browser.get(path.resolve().as_uri())
    frames = browser.execute_script(
        "const roots = document.querySelectorAll('.tg-stepper');"
        "roots[1].querySelector('[data-role=next]').click();"
        "roots[1].querySelector('[data-role=next]').click();"
        "return Array.from(roots).map((r) => r.getAttribute('data-frame'));"
    )
    assert frames == ["0", "2"]


@needs_dot
def test_without_javascript_every_frame_is_listed(tmp_path):
    path = tmp_path / "neuron.html"
    trace = tg.trace_backward(neuron())
    trace.to_html(path)
    driver = _new_driver(javascript=False)
    try:
        driver.get(path.resolve().as_uri())
        from selenium.webdriver.common.by import By

        items = driver.find_elements(By.CSS_SELECTOR, ".tg-static li")
        assert len(items) == 1 + len(trace.forward) + 1 + len(trace) + 1
        assert all(item.is_displayed() for item in items)
        assert not driver.find_element(By.ID, "next").is_displayed()
        assert "Backward 1 of 5: Tanh" in items[len(trace.forward) + 2].text
    finally:
        driver.quit()


@needs_dot
def test_screenshot_of_the_neuron(browser, tmp_path):
    path = screenshot_neuron(browser, tmp_path / "neuron.html", tmp_path / "neuron.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the README's screenshots -------------------------------------------------------------------


def screenshot_neuron(driver, html: Path, png: Path, frame: int = 11) -> Path:
    """The neuron at the backward step through x1*w1 (the chain rule with -3 and 2)."""
    tg.trace_backward(neuron()).to_html(html, title="Backpropagation through a neuron")
    driver.set_window_size(1500, 1080)
    _open(driver, html)
    driver.execute_script(
        "const s = document.getElementById('slider'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        frame,
    )
    driver.save_screenshot(str(png))
    return png


def screenshot_training(driver, html: Path, png: Path) -> Path:
    _, recorder = tiny_training(steps=6)
    recorder.to_html(html, title="Six optimisation steps of a 2-2-1 network")
    driver.set_window_size(1500, 1250)
    _open(driver, html)
    data = json.loads(_data(html))
    frame = next(k for k, f in enumerate(data["frames"]) if f["run"] == 2 and f["kind"] == "update")
    driver.execute_script(
        "const s = document.getElementById('slider'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        frame,
    )
    driver.save_screenshot(str(png))
    return png


def main() -> None:
    import tempfile

    driver = _new_driver()
    try:
        with tempfile.TemporaryDirectory() as folder:
            html = Path(folder) / "page.html"
            for png in (
                screenshot_neuron(driver, html, IMAGES / "stepper_neuron.png"),
                screenshot_training(driver, html, IMAGES / "stepper_training.png"),
            ):
                print("wrote", png)
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
