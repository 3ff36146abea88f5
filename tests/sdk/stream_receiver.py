"""A Stream-mode receiver: the official `dingtalk-stream` SDK, unmodified,
pointed at orgdrive the way the SDK documents it (the environment variable
DINGTALK_OPENAPI_ENDPOINT). Every event it receives is appended to OUT_FILE
as one JSON line {"headers": ..., "data": ...}; the first FAIL_FIRST events
are answered with code 500 (not processed), so that the server retries them.

    python stream_receiver.py CLIENT_ID CLIENT_SECRET OUT_FILE [FAIL_FIRST]
"""

import json
import logging
import sys

import dingtalk_stream
from dingtalk_stream import AckMessage


class Recorder(dingtalk_stream.EventHandler):
    def __init__(self, out_file, fail_first):
        super().__init__()
        self.out_file, self.fail_first = out_file, fail_first

    async def process(self, event):
        if self.fail_first > 0:
            self.fail_first -= 1
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "not now"
        h = event.headers
        line = {
            "headers": {"eventId": h.event_id, "eventType": h.event_type,
                        "eventCorpId": h.event_corp_id, "eventBornTime": h.event_born_time,
                        "eventUnifiedAppId": h.event_unified_app_id, "topic": h.topic,
                        "messageId": h.message_id},
            "data": event.data,
        }
        with open(self.out_file, "a") as out:
            out.write(json.dumps(line) + "\n")
        return AckMessage.STATUS_OK, "OK"


def main():
    client_id, client_secret, out_file = sys.argv[1:4]
    fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    logging.basicConfig(level=logging.INFO)
    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(client_id, client_secret))
    client.register_all_event_handler(Recorder(out_file, fail_first))
    client.start_forever()


if __name__ == "__main__":
    main()
