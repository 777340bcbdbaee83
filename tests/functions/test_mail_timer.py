"""The Functions app's mail timer runs the same mail job as the web app: the owner of a petition
that reached a threshold is mailed once, however often the timer fires."""
from app.services.mail import read_mail_dir
from app.web import wiring


def test_the_mail_timer_tells_the_owner_once(app, fn_clients, timer_handles, make_petition, clock):
    fn_clients.config().RESPONSE_THRESHOLD = 2
    petition_id, owner_id = make_petition()
    with app.app_context():
        services = wiring.services()
        services.clock = clock  # the petition was launched at the test clock's time
        for user_id in (501, 502):
            services.signing().sign(petition_id, user_id)
    send_mail = timer_handles["send_mail"]
    send_mail(None)
    send_mail(None)
    mail = [m for m in read_mail_dir(app.config["MAIL_DIR"]) if m.subject == "Your petition has reached 2 signatures"]
    assert len(mail) == 1 and f"/petitions/{petition_id}" in mail[0].body
