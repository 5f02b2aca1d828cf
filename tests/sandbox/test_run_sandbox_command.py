import re
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_run_sandbox_serves_until_stopped():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", "0", "--orders", "30", "--products", "3", "--seed", "9"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"on (http://\S+)", line).group(1)
        index = requests.get(url + "/", timeout=5).json()
        assert index["orders"] == 30 and index["shop"] == "sandbox-9.myshopify.com"
    finally:
        process.terminate()
        process.wait(timeout=10)
