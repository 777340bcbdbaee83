"""Shows a service's InvalidInput beside the form fields it names."""


def apply_field_errors(form, error):
    for field, message in error.fields.items():
        getattr(form, field).errors.append(message)
