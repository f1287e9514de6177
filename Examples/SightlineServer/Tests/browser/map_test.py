#!/usr/bin/env python3
"""The map page in a real browser (Debian's chromium and chromium-driver, driven by selenium):
an investigator pastes a token and a purpose, draws a plate's track and an area's sightings
and heat map, and sees an alert posted during the test arrive live. Asserts that the points
drawn are exactly the API's rows, and that the page fetched nothing from anywhere but the
service. Usage:
  map_test.py SERVER_BINARY [--screenshot PNG]"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ap = argparse.ArgumentParser()
ap.add_argument("server"); ap.add_argument("--screenshot")
a = ap.parse_args()

work = tempfile.mkdtemp(prefix="sightline-map-")
store, keyring, tokens = work + "/store", work + "/keyring", work + "/tokens"

def token(requester, agency, roles):
    return subprocess.run([a.server, "token", "add", "--tokens", tokens, "--requester", requester, "--agency", agency, "--roles", roles],
                          check=True, capture_output=True, text=True).stdout.strip()

admin = token("ops", "SFPD", "admin,ingest")
investigator = token("det-ruiz", "SFPD", "read,alerts")
server = subprocess.Popen([a.server, "serve", "--store", store, "--keyring", keyring, "--tokens", tokens, "--port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
driver = None
try:
    line = server.stdout.readline()
    base = "http://" + line.split()[-1]

    def call(method, path, tok, body=None, ctype="application/x-ndjson", purpose=None):
        req = urllib.request.Request(base + path, data=body.encode() if body is not None else None, method=method,
                                     headers={"Authorization": "Bearer " + tok, "Content-Type": ctype, **({"X-Sightline-Purpose": purpose} if purpose else {})})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")

    t0 = 1_717_200_000_000
    rows = []
    for i in range(25):  # a car driving north-east across the city, a read a minute
        rows.append({"plate": "TRACK1", "time": t0 + i * 60_000, "lat": round(37.74 + i * 0.002, 5), "lon": round(-122.46 + i * 0.003, 5), "camera": 100 + i, "confidence": 95})
    for i in range(60):  # other traffic
        rows.append({"plate": "CAR%03d" % i, "time": t0 + i * 17_000, "lat": round(37.70 + (i * 7 % 60) * 0.002, 5), "lon": round(-122.50 + (i * 11 % 60) * 0.003, 5), "camera": i, "confidence": 80})
    assert call("POST", "/v1/sightings", admin, "\n".join(json.dumps(r) for r in rows))["stored"] == len(rows)
    call("PUT", "/v1/hotlists/stolen/entries/ALERT7", admin, json.dumps({"reason": "stolen"}), "application/json")

    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900", "--disable-gpu"]:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 20)
    driver.get(base + "/")
    driver.find_element(By.ID, "token").send_keys(investigator)
    driver.find_element(By.ID, "purpose").send_keys("stolen vehicle")

    def drawn(kind):
        return sorted((int(c.get_attribute("data-time")), c.get_attribute("data-plate"), float(c.get_attribute("data-lat")), float(c.get_attribute("data-lon")))
                      for c in driver.find_elements(By.CSS_SELECTOR, "circle.point." + kind))

    def api_rows(path):
        return sorted((r["time"], r["plate"], r["lat"], r["lon"]) for r in call("GET", path, investigator, purpose="stolen vehicle")["sightings"])

    # A plate's history: the track's points are the API's rows.
    driver.find_element(By.ID, "plate").send_keys("TRACK1")
    driver.find_element(By.ID, "history-go").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-history"))
    expected = api_rows("/v1/plates/TRACK1/sightings?limit=10000")
    assert len(expected) == 25 and drawn("history") == expected, (drawn("history")[:3], expected[:3])
    track_points = len(expected)
    assert driver.find_elements(By.CSS_SELECTOR, "#track polyline"), "no track line"

    # An area: its points are the API's rows, and its heat map has cells.
    bbox = "37.70,-122.50,37.76,-122.40"
    driver.find_element(By.ID, "bbox").send_keys(bbox)
    driver.find_element(By.ID, "area-go").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-area"))
    expected = api_rows("/v1/area?limit=10000&bbox=" + bbox)
    assert len(expected) > 10 and drawn("area") == expected, (len(drawn("area")), len(expected))
    cells = driver.find_elements(By.CSS_SELECTOR, "rect.cell")
    assert cells and sum(int(c.get_attribute("data-count")) for c in cells) == len(expected)

    # Live alerts: a hotlisted plate posted now appears on the page.
    driver.find_element(By.ID, "alerts-go").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-alerts-connected") == "true")
    call("POST", "/v1/sightings", admin, json.dumps({"plate": "ALERT7", "time": t0 + 3_600_000, "lat": 37.72, "lon": -122.45, "camera": 7, "confidence": 90}))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "circle.point.alert"))
    alert = driver.find_elements(By.CSS_SELECTOR, "circle.point.alert")[0]
    assert alert.get_attribute("data-plate") == "ALERT7" and alert.get_attribute("data-sequence") == "1"
    assert "ALERT7" in driver.find_element(By.ID, "alerts").text

    # Nothing came from outside the service, and the token never went into a URL.
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(base) for r in resources), resources
    assert not any(investigator in r for r in resources)
    if a.screenshot:
        driver.find_element(By.ID, "token").clear()  # the screenshot shows no token
        driver.save_screenshot(a.screenshot)
    print(f"map page: {track_points} track points, {len(drawn('area'))} area points, {len(cells)} heat cells, live alert drawn — all as the API answered")
finally:
    if driver:
        driver.quit()
    server.terminate()
    server.wait(timeout=20)
    shutil.rmtree(work, ignore_errors=True)
