"""Event receivers for the events tests, independent of orgdrive's code:

- StreamReceiver runs stream_receiver.py (the official dingtalk-stream SDK)
  in a process of its own;
- CallbackReceiver is an HTTP server implementing DingTalk's encrypted
  callback format from its published description (AES-256-CBC with the key
  base64(aesKey + "=") and IV = its first 16 bytes; plaintext = 16 random
  bytes + 4-byte big-endian length + message + owner key, padded PKCS#7-style
  to 32 bytes; signature = SHA-1 hex of the sorted token, timestamp, nonce
  and ciphertext), checked against DingTalk's published test vector below.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = Path(__file__).resolve().parent


# ---- DingTalk's callback crypto, written from the published description ----

def _key(aes_key):
    key = base64.b64decode(aes_key + "=")
    assert len(key) == 32
    return key


def sign(token, timestamp, nonce, encrypted):
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def encrypt(aes_key, owner_key, message):
    key = _key(aes_key)
    body = message.encode()
    plain = os.urandom(16) + len(body).to_bytes(4, "big") + body + owner_key.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(aes_key, encrypted):
    key = _key(aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[:-plain[-1]]
    length = int.from_bytes(plain[16:20], "big")
    return plain[20:20 + length].decode(), plain[20 + length:].decode()


# DingTalk's published test vector (its crypto samples).
VECTOR = {
    "token": "mryue", "aes_key": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
    "owner_key": "ding6ccabc44d2c8d38b", "timestamp": "1608001896814", "nonce": "WL4PK6yA",
    "signature": "03044561471240d4a14bb09372dfcfd4fd0e40cb",
    "encrypt": "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NR"
               "PvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
}


class CallbackReceiver:
    """An HTTP callback receiver on loopback. `up` False makes it answer 503
    (a receiver that is down); every push it accepted is kept in `messages`
    (decrypted, parsed), in arrival order."""

    def __init__(self, token, aes_key, owner_key):
        self.token, self.aes_key, self.owner_key = token, aes_key, owner_key
        self.messages, self.refused, self.bad = [], 0, []
        self.up = True
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                query = parse_qs(urlparse(self.path).query)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not receiver.up:
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                encrypted = body["encrypt"]
                expected = sign(receiver.token, query["timestamp"][0], query["nonce"][0], encrypted)
                if query["msg_signature"][0] != expected:
                    receiver.bad.append("signature")
                    self.send_response(403)
                    self.end_headers()
                    return
                message, owner = decrypt(receiver.aes_key, encrypted)
                if owner != receiver.owner_key:
                    receiver.bad.append("owner key")
                with receiver.lock:
                    receiver.messages.append(json.loads(message))
                timestamp, nonce = str(int(time.time() * 1000)), "n0nce123"
                answer = encrypt(receiver.aes_key, receiver.owner_key, "success")
                out = json.dumps({"msg_signature": sign(receiver.token, timestamp, nonce, answer),
                                  "timeStamp": timestamp, "nonce": nonce,
                                  "encrypt": answer}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/dingtalk/callback"

    def events(self):
        with self.lock:
            return [m for m in self.messages if m.get("EventType") != "check_url"]

    def close(self):
        self.httpd.shutdown()


class StreamReceiver:
    """The official Stream SDK in a process of its own, recording to a file."""

    def __init__(self, server, tenant, out_file, fail_first=0):
        self.out_file = Path(out_file)
        env = {**os.environ, "DINGTALK_OPENAPI_ENDPOINT": server.base_url}
        log = open(self.out_file.with_suffix(".log"), "a")
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "stream_receiver.py"), tenant.app_key, tenant.app_secret,
             str(self.out_file), str(fail_first)],
            env=env, stdout=log, stderr=subprocess.STDOUT)

    def events(self):
        if not self.out_file.exists():
            return []
        return [json.loads(line) for line in self.out_file.read_text().splitlines() if line]

    def close(self):
        self.process.kill()
        self.process.wait()


def wait_for(get, count, timeout=30):
    """`get()` once it holds at least `count` items (else fails with what it holds)."""
    deadline = time.time() + timeout
    while True:
        got = get()
        if len(got) >= count:
            return got
        if time.time() > deadline:
            raise AssertionError(f"{len(got)} of {count} events after {timeout} s: {got}")
        time.sleep(0.05)
