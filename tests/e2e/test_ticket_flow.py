"""The desk logs a phone call and dispatches it; the vendor accepts and resolves; the desk
closes; the timeline shows every step; another vendor cannot open the ticket."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from directory.models import BusinessSystem, Vendor
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "opsdesk-demo"


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_selector("#current-user")


def log_out(page) -> None:
    page.click("form[action$='/logout/'] button")
    page.wait_for_selector("#id_username")


def test_phone_call_to_closure_across_desk_and_vendor(page, live_server):
    call_command("seed_demo", tickets=0)
    base = live_server.url

    # Given the desk logs a grade-1 phone call for the labour system (vendor A's)
    log_in(page, base, "desk")
    page.goto(f"{base}/tickets/new/call/")
    page.fill("#id_requester_name", "张三")
    page.fill("#id_requester_phone", "020-83331234")
    labour = BusinessSystem.objects.get(code="labour-online")
    page.select_option("#id_system", str(labour.pk))
    page.select_option("#id_kind", "incident")
    page.select_option("#id_grade", "1")
    page.fill("#id_title", "网上办事大厅登录报错 500")
    page.fill("#id_description", "多名用户反映登录后提示系统错误。")
    page.select_option("#id_vendor", str(Vendor.objects.get(code="vendor-a").pk))
    page.press("#id_title", "Enter")
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    ticket = Ticket.objects.get(title="网上办事大厅登录报错 500")
    assert ticket.status == Status.ASSIGNED
    assert ticket.vendor.code == "vendor-a"
    ticket_url = f"{base}/tickets/{ticket.pk}/"
    assert ticket.number in page.content()
    log_out(page)

    # When vendor A's engineer accepts and resolves it
    log_in(page, base, "vendor-a-engineer")
    page.goto(ticket_url)
    assert page.locator("form[data-action='assign']").count() == 0
    assert page.locator("form[data-action='close']").count() == 0
    page.click("form[data-action='accept'] button[type=submit]")
    page.wait_for_selector("li.event-accepted")
    page.click("details:has(form[data-action='resolve']) summary")
    page.fill("form[data-action='resolve'] textarea[name='resolution']", "重启认证服务后恢复。")
    page.click("form[data-action='resolve'] button[type=submit]")
    page.wait_for_selector("li.event-resolved")
    log_out(page)

    # And the desk closes it
    log_in(page, base, "desk")
    page.goto(ticket_url)
    page.click("form[data-action='close'] button[type=submit]")
    page.wait_for_selector("li.event-closed")

    # Then the timeline shows every step, in order
    steps = page.eval_on_selector_all(
        "ol.timeline > li, ul.timeline > li", "items => items.map(item => item.className)"
    )
    actions = [re.search(r"event-(\w+)", cls).group(1) for cls in steps]
    assert actions == ["created", "assigned", "accepted", "resolved", "closed"]
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    log_out(page)

    # And vendor B's engineer cannot open it: 404, as if it did not exist
    log_in(page, base, "vendor-b-engineer")
    response = page.goto(ticket_url)
    assert response.status == 404
    assert "网上办事大厅登录报错" not in page.content()


def test_a_second_submit_of_the_call_form_is_held_back_by_its_script(page, live_server):
    # The server also recognises a resent form (tests/tickets/test_views.py); this is the
    # script's part: once the form is on its way, another click sends nothing and the button
    # is disabled. (A listener after the script's counts what would be sent and keeps the
    # page here.)
    call_command("seed_demo", tickets=0)
    base = live_server.url
    log_in(page, base, "desk")
    page.goto(f"{base}/tickets/new/call/")

    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            let sent = 0;
            document.addEventListener("submit", (event) => {
                if (!event.defaultPrevented) sent += 1;
                event.preventDefault();
            });
            const form = document.querySelector("#log-call-form");
            const button = form.querySelector("button[type=submit]");
            form.requestSubmit(button);
            setTimeout(() => {
                form.requestSubmit(button);
                setTimeout(() => resolve({sent, disabled: button.disabled}), 20);
            }, 20);
        })"""
    )

    assert outcome == {"sent": 1, "disabled": True}
