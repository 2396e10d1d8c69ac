# The local SMTP sink of `scripts/local-docker smtp-sink`: a real SMTP server (Debian's aiosmtpd) that
# delivers nowhere. Every message it accepts is written to MAIL_DIR (a host directory mounted into the
# container) as NNNNNN.eml, and one JSON line per message is appended to MAIL_DIR/index.jsonl:
# envelope sender and recipients, the AUTH user (never the password), whether STARTTLS was used, the
# subject and the time it arrived (seconds since the epoch). It offers STARTTLS with a self-signed
# certificate (Alertmanager requires TLS by default and Go sends credentials only over TLS) and accepts
# any AUTH PLAIN/LOGIN credentials (LOGIN with the "Username:"/"Password:" challenges Go clients expect).
#   python3 docker-smtp-sink.py [--port 25] [--mail-dir /var/mail/sink] [--cert FILE --key FILE]
import argparse
import base64
import email
import email.policy
import json
import os
import ssl
import threading
import time
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword


class Sink:
    def __init__(self, mail_dir):
        self.mail_dir = mail_dir
        self.lock = threading.Lock()
        os.makedirs(mail_dir, exist_ok=True)

    async def auth_LOGIN(self, server, args):  # pylint: disable=invalid-name
        """LOGIN with the challenges most clients expect ("Username:", "Password:"); Go clients such as
        Alertmanager's refuse aiosmtpd's own ("User Name")."""
        login = args[1].encode() if len(args) > 1 else await server.challenge_auth("Username:")
        if login is MISSING:
            return AuthResult(success=False, handled=False)
        if len(args) > 1:
            login = base64.b64decode(login)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, handled=False, auth_data=LoginPassword(login, password))

    async def handle_DATA(self, server, session, envelope):
        received = time.time()
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            number = len([n for n in os.listdir(self.mail_dir) if n.endswith(".eml")]) + 1
            name = "%06d.eml" % number
            tmp = os.path.join(self.mail_dir, "." + name)
            with open(tmp, "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.join(self.mail_dir, name))
            auth = session.auth_data
            entry = {"file": name, "received": received, "mail_from": envelope.mail_from,
                     "rcpt_to": list(envelope.rcpt_tos), "subject": str(message.get("Subject", "")),
                     "auth_user": getattr(auth, "login", None) and auth.login.decode("utf-8", "replace"),
                     "starttls": bool(session.ssl), "peer": session.peer[0] if session.peer else None}
            with open(os.path.join(self.mail_dir, "index.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
            os.chmod(os.path.join(self.mail_dir, "index.jsonl"), 0o644)
        print("smtp-sink: %s from %s to %s" % (name, envelope.mail_from, ", ".join(envelope.rcpt_tos)), flush=True)
        return "250 Message accepted for delivery"


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, handled=False, auth_data=auth_data)


def main():
    # aiosmtpd 1.4 logs a warning about its own use of a deprecated attribute on every AUTH.
    logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--mail-dir", default="/var/mail/sink")
    parser.add_argument("--cert", default="/etc/smtp-sink/cert.pem")
    parser.add_argument("--key", default="/etc/smtp-sink/key.pem")
    args = parser.parse_args()
    context = None
    if os.path.exists(args.cert):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    controller = Controller(Sink(args.mail_dir), hostname=args.host, port=args.port, tls_context=context,
                            require_starttls=False, authenticator=accept_any, auth_require_tls=False,
                            server_hostname="smtp-sink", ready_timeout=10)
    controller.start()
    print("smtp-sink: listening on %s:%d, mails in %s" % (args.host, args.port, args.mail_dir), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
