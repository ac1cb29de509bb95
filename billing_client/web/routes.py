"""The pages' route table: the console under ``/admin``, the portal under ``/portal``."""

from __future__ import annotations

from billing_client.api.routes import Handler
from billing_client.web import admin_people, admin_setup, portal, signin

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/admin", admin_people.home),
    ("GET", "/admin/", admin_people.home),
    ("GET", "/admin/login", signin.admin_login),
    ("POST", "/admin/login", signin.admin_login_post),
    ("POST", "/admin/logout", signin.admin_logout),
    ("GET", "/admin/payment-systems", admin_setup.list_payment_systems),
    ("POST", "/admin/payment-systems", admin_setup.create_payment_system),
    ("GET", "/admin/payment-systems/{id}", admin_setup.show_payment_system),
    ("POST", "/admin/payment-systems/{id}", admin_setup.update_payment_system),
    ("GET", "/admin/payment-systems/{id}/methods", admin_setup.methods_page),
    ("POST", "/admin/payment-systems/{id}/methods", admin_setup.save_methods),
    ("GET", "/admin/payment-systems/{id}/data-protection", admin_setup.protection_page),
    ("POST", "/admin/payment-systems/{id}/data-protection", admin_setup.save_protection),
    ("GET", "/admin/currencies", admin_setup.list_currencies),
    ("GET", "/admin/currencies/{code}", admin_setup.show_currency),
    ("POST", "/admin/currencies/{code}", admin_setup.save_currency),
    ("GET", "/admin/customers", admin_people.list_customers),
    ("POST", "/admin/customers", admin_people.create_customer),
    ("GET", "/admin/customers/{id}", admin_people.show_customer),
    ("POST", "/admin/customers/{id}/general-info", admin_people.save_general_info),
    ("POST", "/admin/customers/{id}/self-care", admin_people.save_self_care),
    ("GET", "/admin/payments", admin_people.search_payments),
    ("GET", "/admin/payments/{id}", admin_people.show_payment),
    ("POST", "/admin/payments/{id}/capture", admin_people.capture),
    ("POST", "/admin/payments/{id}/refund", admin_people.refund),
    ("POST", "/admin/payments/{id}/void", admin_people.void),
    ("GET", "/admin/audit", admin_people.audit_trail),
    ("GET", "/portal", portal.home),
    ("GET", "/portal/", portal.home),
    ("GET", "/portal/login", signin.portal_login),
    ("POST", "/portal/login", signin.portal_login_post),
    ("POST", "/portal/logout", signin.portal_logout),
    ("POST", "/portal/details", portal.save_details),
    ("POST", "/portal/cards", portal.add_card),
    ("POST", "/portal/cards/{id}/delete", portal.delete_card),
    ("POST", "/portal/payments", portal.pay),
    ("GET", "/portal/payments/{id}", portal.show_payment),
)
